import type { Queryable } from '../db/pool.js';
import { queryRows } from '../db/query.js';
import type { StepState, TaskState } from '../state/index.js';

/** A step's error as recorded from its handler (or from the engine). */
export interface StepErrorInfo {
  name?: string;
  message: string;
  code?: string;
  retryable?: boolean;
  stack?: string;
}

export interface StepView {
  stepUuid: string;
  name: string;
  handler: string;
  state: StepState;
  attempts: number;
  maxAttempts: number;
  dependsOn: string[];
  /** The handler's return value, once the step succeeded. */
  result: unknown;
  /** The last failure, if any. */
  error: StepErrorInfo | null;
  nextRetryAt: Date | null;
  processedAt: Date | null;
}

export interface TaskView {
  taskUuid: string;
  namespace: string;
  name: string;
  version: string;
  state: TaskState;
  context: Record<string, unknown>;
  priority: number;
  correlationId: string;
  stepsTotal: number;
  stepsRemaining: number;
  /** The first permanent step failure, for tasks that failed. */
  error: { stepUuid: string; stepName: string; error: StepErrorInfo | null } | null;
  createdAt: Date;
  completedAt: Date | null;
  steps: StepView[];
}

interface TaskRow {
  task_uuid: string;
  namespace: string;
  name: string;
  version: string;
  state: TaskState;
  context: Record<string, unknown>;
  priority: number;
  correlation_id: string;
  steps_total: number;
  steps_remaining: number;
  error: { step_uuid: string; step_name: string; error: StepErrorInfo | null } | null;
  created_at: Date;
  completed_at: Date | null;
  steps: {
    step_uuid: string;
    name: string;
    handler: string;
    state: StepState;
    attempts: number;
    max_attempts: number;
    depends_on: string[];
    results: { success?: boolean; result?: unknown; error?: StepErrorInfo } | null;
    next_retry_at: string | null;
    processed_at: string | null;
  }[];
}

/** Reads a task with all its steps (one query). Returns undefined when it does not exist. */
export async function getTask(db: Queryable, taskUuid: string): Promise<TaskView | undefined> {
  const [row] = await queryRows<TaskRow>(
    db,
    {
      name: 'tasker_get_task',
      text: `SELECT t.task_uuid, t.namespace, tp.name, tp.version, t.state, t.context, t.priority, t.correlation_id,
                    t.steps_total, t.steps_remaining, t.error, t.created_at, t.completed_at,
                    coalesce((SELECT jsonb_agg(jsonb_build_object(
                        'step_uuid', s.step_uuid, 'name', s.name, 'handler', s.handler, 'state', s.state,
                        'attempts', s.attempts, 'max_attempts', s.max_attempts, 'results', s.results,
                        'next_retry_at', s.next_retry_at, 'processed_at', s.processed_at,
                        'depends_on', coalesce((SELECT jsonb_agg(p.name ORDER BY p.name)
                                                FROM tasker.workflow_step_edges e
                                                JOIN tasker.workflow_steps p ON p.step_uuid = e.from_step_uuid
                                                WHERE e.to_step_uuid = s.step_uuid), '[]'::jsonb))
                      ORDER BY ts.position)
                      FROM tasker.workflow_steps s
                      LEFT JOIN tasker.template_steps ts ON ts.template_uuid = t.template_uuid AND ts.name = s.name
                      WHERE s.task_uuid = t.task_uuid), '[]'::jsonb) AS steps
             FROM tasker.tasks t JOIN tasker.templates tp ON tp.template_uuid = t.template_uuid
             WHERE t.task_uuid = $1`,
    },
    [taskUuid],
  );
  if (!row) return undefined;
  return {
    taskUuid: row.task_uuid,
    namespace: row.namespace,
    name: row.name,
    version: row.version,
    state: row.state,
    context: row.context,
    priority: row.priority,
    correlationId: row.correlation_id,
    stepsTotal: row.steps_total,
    stepsRemaining: row.steps_remaining,
    error: row.error
      ? { stepUuid: row.error.step_uuid, stepName: row.error.step_name, error: row.error.error }
      : null,
    createdAt: row.created_at,
    completedAt: row.completed_at,
    steps: row.steps.map((s) => ({
      stepUuid: s.step_uuid,
      name: s.name,
      handler: s.handler,
      state: s.state,
      attempts: s.attempts,
      maxAttempts: s.max_attempts,
      dependsOn: s.depends_on,
      result: s.results?.success ? (s.results.result ?? null) : null,
      error: s.results && s.results.success === false ? (s.results.error ?? null) : null,
      nextRetryAt: s.next_retry_at ? new Date(s.next_retry_at) : null,
      processedAt: s.processed_at ? new Date(s.processed_at) : null,
    })),
  };
}

/** Terminal task states: the task will not change any more. */
export const FINISHED_TASK_STATES: ReadonlySet<TaskState> = new Set<TaskState>([
  'complete',
  'error',
  'cancelled',
  'resolved_manually',
]);
