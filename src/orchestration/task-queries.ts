import type { Queryable } from '../db/pool.js';
import { queryRows } from '../db/query.js';
import type { StepState, TaskState } from '../state/index.js';
import type { StepType } from '../templates/types.js';

/** A step's error as recorded from its handler (or from the engine). */
export interface StepErrorInfo {
  name?: string;
  message: string;
  code?: string;
  retryable?: boolean;
  stack?: string;
}

/** How far a step is from running. */
export type StepReadiness =
  | 'ready'
  | 'waiting_for_dependencies'
  | 'waiting_for_retry'
  | 'running'
  | 'done'
  | 'failed'
  | 'cancelled'
  | 'skipped';

export interface StepView {
  stepUuid: string;
  name: string;
  handler: string;
  state: StepState;
  /** The template step type (`batch_worker` for a batch instance). */
  type: StepType;
  readiness: StepReadiness;
  attempts: number;
  maxAttempts: number;
  dependsOn: string[];
  /** The handler's return value (or an operator's), once the step succeeded. */
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
  tags: string[];
  correlationId: string;
  parentCorrelationId: string | null;
  initiator: string | null;
  sourceSystem: string | null;
  reason: string | null;
  stepsTotal: number;
  stepsRemaining: number;
  /** Why the task failed: the first permanent step failure (step null when the engine failed it, e.g. stuck). */
  error: { stepUuid: string | null; stepName: string | null; error: StepErrorInfo | null } | null;
  createdAt: Date;
  updatedAt: Date;
  completedAt: Date | null;
  steps: StepView[];
}

/** The JSON document `tasker.get_task_view` returns (timestamps as ISO strings). */
export interface TaskDocument {
  task_uuid: string;
  namespace: string;
  name: string;
  version: string;
  state: TaskState;
  context: Record<string, unknown>;
  priority: number;
  tags: string[];
  correlation_id: string;
  parent_correlation_id: string | null;
  initiator: string | null;
  source_system: string | null;
  reason: string | null;
  steps_total: number;
  steps_remaining: number;
  error: { step_uuid: string | null; step_name: string | null; error: StepErrorInfo | null } | null;
  created_at: string;
  updated_at: string;
  completed_at: string | null;
  steps: {
    step_uuid: string;
    name: string;
    handler: string;
    state: StepState;
    type: StepType;
    readiness: StepReadiness;
    attempts: number;
    max_attempts: number;
    depends_on: string[];
    results: { success?: boolean; result?: unknown; error?: StepErrorInfo } | null;
    next_retry_at: string | null;
    processed_at: string | null;
  }[];
}

const date = (s: string | null): Date | null => (s === null ? null : new Date(s));

/** Reads a task with all its steps (one query). Returns undefined when it does not exist. */
export async function getTask(db: Queryable, taskUuid: string): Promise<TaskView | undefined> {
  const [row] = await queryRows<{ doc: TaskDocument | null }>(
    db,
    { name: 'tasker_get_task_view', text: 'SELECT tasker.get_task_view($1) AS doc' },
    [taskUuid],
  );
  return row?.doc ? taskViewFromDocument(row.doc) : undefined;
}

/** Maps the JSON document of `tasker.get_task_view` to a {@link TaskView}. */
export function taskViewFromDocument(d: TaskDocument): TaskView {
  return {
    taskUuid: d.task_uuid,
    namespace: d.namespace,
    name: d.name,
    version: d.version,
    state: d.state,
    context: d.context,
    priority: d.priority,
    tags: d.tags,
    correlationId: d.correlation_id,
    parentCorrelationId: d.parent_correlation_id,
    initiator: d.initiator,
    sourceSystem: d.source_system,
    reason: d.reason,
    stepsTotal: d.steps_total,
    stepsRemaining: d.steps_remaining,
    error: d.error
      ? { stepUuid: d.error.step_uuid, stepName: d.error.step_name, error: d.error.error }
      : null,
    createdAt: new Date(d.created_at),
    updatedAt: new Date(d.updated_at),
    completedAt: date(d.completed_at),
    steps: d.steps.map((s) => ({
      stepUuid: s.step_uuid,
      name: s.name,
      handler: s.handler,
      state: s.state,
      type: s.type,
      readiness: s.readiness,
      attempts: s.attempts,
      maxAttempts: s.max_attempts,
      dependsOn: s.depends_on,
      result: s.results?.success ? (s.results.result ?? null) : null,
      error: s.results && s.results.success === false ? (s.results.error ?? null) : null,
      nextRetryAt: date(s.next_retry_at),
      processedAt: date(s.processed_at),
    })),
  };
}

export { FINISHED_TASK_STATES } from '../state/index.js';
