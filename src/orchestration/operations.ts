/**
 * Engine operations used by the REST API, the CLI and library users: reading, listing, cancelling, operator
 * actions on steps, templates and the dead-letter queue. Each is one SQL call (definitions in sql/functions/).
 * Task and step operations are here; template and dead-letter ones in `operations-templates.ts` and
 * `operations-dlq.ts` (re-exported from this module).
 */
import type { Queryable } from '../db/pool.js';
import { queryRows } from '../db/query.js';
import { STEP_ACTIONS } from '../contract/names.js';
import { ErrorCode, TaskerError } from '../errors.js';
import type { StepState, TaskState } from '../state/index.js';
import { decodeCursor, encodeCursor, notFound, type Page } from './operations-common.js';
import { rerunFromStep } from './rerun.js';
import { taskFilterJson, type TaskListFilter } from './task-filter.js';
import { getTask, type StepErrorInfo, type StepView, type TaskView } from './task-queries.js';

export type { Page } from './operations-common.js';
export * from './operations-dlq.js';
export * from './operations-templates.js';
export { rerunFromStep, type RerunResult } from './rerun.js';
export type { TaskListFilter } from './task-filter.js';

/** A task in a listing (no steps). */
export interface TaskSummary {
  taskUuid: string;
  namespace: string;
  name: string;
  version: string;
  state: TaskState;
  priority: number;
  tags: string[];
  correlationId: string;
  stepsTotal: number;
  stepsRemaining: number;
  createdAt: Date;
  completedAt: Date | null;
}

/** One audited state change of a task or a step. */
export interface TransitionView {
  /** Stable key of this event: `<task|step>:<uuid>:<sort_key>`. */
  key: string;
  entity: 'task' | 'step';
  taskUuid: string;
  stepUuid: string | null;
  stepName: string | null;
  fromState: string | null;
  toState: string;
  event: string;
  sortKey: number;
  metadata: Record<string, unknown> | null;
  processor: string | null;
  createdAt: Date;
}

/**
 * Operator actions on a step (each records who and why in the audit trail). `rerun_from` re-runs the task from
 * the step: the step and everything below it run again (see {@link rerunFromStep}).
 */
export type StepAction =
  | { action: typeof STEP_ACTIONS.ResetForRetry; reason: string; by: string }
  | { action: typeof STEP_ACTIONS.ResolveManually; reason: string; by: string }
  | { action: typeof STEP_ACTIONS.CompleteManually; reason: string; by: string; result: unknown }
  | { action: 'rerun_from'; reason: string; by: string };

export type { StepErrorInfo, StepView, TaskView, StepState, TaskState };

interface TaskSummaryRow {
  task_uuid: string;
  namespace: string;
  name: string;
  version: string;
  state: TaskState;
  priority: number;
  tags: string[];
  correlation_id: string;
  steps_total: number;
  steps_remaining: number;
  created_at: Date;
  completed_at: Date | null;
}

/** Lists tasks newest first, `limit` (1..1000) at a time. */
export async function listTasks(
  db: Queryable,
  filter: TaskListFilter = {},
  page: { limit?: number; cursor?: string } = {},
): Promise<Page<TaskSummary>> {
  const limit = Math.min(1000, Math.max(1, Math.trunc(page.limit ?? 50)));
  // Unnamed on purpose: each call is planned with its filter's values, so a selective filter (a search, a rare
  // state, a recent time range) uses its index instead of a plan cached for some other filter.
  const rows = await queryRows<TaskSummaryRow>(db, { text: 'SELECT * FROM tasker.list_tasks($1, $2, $3)' }, [
    taskFilterJson(filter),
    decodeCursor(page.cursor),
    limit + 1,
  ]);
  const items = rows.slice(0, limit).map((r) => ({
    taskUuid: r.task_uuid,
    namespace: r.namespace,
    name: r.name,
    version: r.version,
    state: r.state,
    priority: r.priority,
    tags: r.tags,
    correlationId: r.correlation_id,
    stepsTotal: r.steps_total,
    stepsRemaining: r.steps_remaining,
    createdAt: r.created_at,
    completedAt: r.completed_at,
  }));
  return { items, nextCursor: rows.length > limit ? encodeCursor(items.at(-1)?.taskUuid) : null };
}

/** Reads a task or throws TASK_NOT_FOUND. */
export async function requireTask(db: Queryable, taskUuid: string): Promise<TaskView> {
  const task = await getTask(db, taskUuid);
  if (!task) throw notFound(ErrorCode.TaskNotFound, `task ${taskUuid}`);
  return task;
}

/** One step of a task, or STEP_NOT_FOUND / TASK_NOT_FOUND. */
export async function getStep(db: Queryable, taskUuid: string, stepUuid: string): Promise<StepView> {
  const task = await requireTask(db, taskUuid);
  const step = task.steps.find((s) => s.stepUuid === stepUuid);
  if (!step) throw notFound(ErrorCode.StepNotFound, `step ${stepUuid} of task ${taskUuid}`);
  return step;
}

interface TransitionRow {
  entity: 'task' | 'step';
  step_uuid: string | null;
  step_name: string | null;
  from_state: string | null;
  to_state: string;
  event: string;
  sort_key: number;
  metadata: Record<string, unknown> | null;
  processor: string | null;
  created_at: Date;
}

/**
 * The audit trail of a task (its own transitions and its steps'), or of one of its steps, oldest first. Each
 * entry has a stable `key`, so a reader that sees an entry twice can tell.
 */
export async function taskTransitions(
  db: Queryable,
  taskUuid: string,
  stepUuid?: string,
): Promise<TransitionView[]> {
  const rows = await queryRows<TransitionRow>(
    db,
    { name: 'tasker_task_transition_history', text: 'SELECT * FROM tasker.task_transition_history($1, $2)' },
    [taskUuid, stepUuid ?? null],
  );
  return rows.map((r) => ({
    key: r.entity === 'task' ? `task:${taskUuid}:${r.sort_key}` : `step:${r.step_uuid}:${r.sort_key}`,
    entity: r.entity,
    taskUuid,
    stepUuid: r.step_uuid,
    stepName: r.step_name,
    fromState: r.from_state,
    toState: r.to_state,
    event: r.event,
    sortKey: r.sort_key,
    metadata: r.metadata,
    processor: r.processor,
    createdAt: r.created_at,
  }));
}

/** The audit trail of one step (checks the step belongs to the task). */
export async function stepTransitions(
  db: Queryable,
  taskUuid: string,
  stepUuid: string,
): Promise<TransitionView[]> {
  await getStep(db, taskUuid, stepUuid);
  return taskTransitions(db, taskUuid, stepUuid);
}

/**
 * Cancels a task: every unfinished step becomes `cancelled`, then the task; workers running its steps abort
 * their handlers. Throws INVALID_TRANSITION for a finished task, TASK_NOT_FOUND for an unknown one.
 */
export async function cancelTask(
  db: Queryable,
  taskUuid: string,
  options: { reason?: string; by?: string; processorId?: string } = {},
): Promise<{ state: TaskState; stepsCancelled: number }> {
  const [row] = await queryRows<{ task_state: TaskState; steps_cancelled: number }>(
    db,
    { name: 'tasker_cancel_task', text: 'SELECT * FROM tasker.cancel_task($1, $2, $3, $4)' },
    [taskUuid, options.reason ?? null, options.by ?? null, options.processorId ?? 'api'],
  );
  return { state: row!.task_state, stepsCancelled: row!.steps_cancelled };
}

/**
 * Applies an operator action to a step and re-evaluates its task in the same transaction, so a blocked or
 * failed task really resumes. Returns the new states (for `rerun_from`, the origin step's).
 */
export async function applyStepAction(
  db: Queryable,
  taskUuid: string,
  stepUuid: string,
  action: StepAction,
  processorId = 'api',
): Promise<{ stepState: StepState; taskState: TaskState }> {
  if (typeof action.reason !== 'string' || action.reason.length === 0) {
    throw new TaskerError(ErrorCode.TaskInvalid, 'reason is required for a step action', {
      details: { field: 'reason' },
    });
  }
  if (action.action === 'rerun_from') {
    const rerun = await rerunFromStep(db, taskUuid, stepUuid, { ...action, processorId });
    return { stepState: rerun.stepState, taskState: rerun.taskState };
  }
  const result =
    action.action === STEP_ACTIONS.CompleteManually ? JSON.stringify(action.result ?? null) : null;
  const [row] = await queryRows<{ step_state: StepState; task_state: TaskState }>(
    db,
    {
      name: 'tasker_apply_step_action',
      text: 'SELECT * FROM tasker.apply_step_action($1, $2, $3, $4, $5, $6, $7)',
    },
    [taskUuid, stepUuid, action.action, result, action.reason, action.by, processorId],
  );
  return { stepState: row!.step_state, taskState: row!.task_state };
}
