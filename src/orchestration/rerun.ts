/**
 * Re-running a task from one of its steps: that step and everything below it run again, the other steps keep
 * their results. One SQL call (`sql/functions/rerun_from_step.sql`), audited like every operator action.
 */
import type { Queryable } from '../db/pool.js';
import { queryRows } from '../db/query.js';
import { ErrorCode, TaskerError } from '../errors.js';
import type { StepState, TaskState } from '../state/index.js';

/** What a re-run changed. */
export interface RerunResult {
  /** The origin step's state afterwards: `enqueued` when its parents are done, else `pending`. */
  stepState: StepState;
  /** The task's state afterwards (`steps_in_process` once a step below could start). */
  taskState: TaskState;
  /** Steps sent back to `pending` (the origin, its dependents, batch siblings a fail_fast failure cancelled). */
  stepsReset: number;
  /** Batch instances removed because the batchable step that created them runs again. */
  stepsRemoved: number;
}

/**
 * Re-runs a task from `stepUuid`: the step and its transitive dependents are reset (attempts 0, no result or
 * checkpoint; what they had is kept in their `Rerun` audit rows) and the task resumes. Throws TASK_NOT_FOUND,
 * STEP_NOT_FOUND, INVALID_TRANSITION (a cancelled or still running task, a running step below, a step skipped
 * from above) or TASK_INVALID (no reason).
 */
export async function rerunFromStep(
  db: Queryable,
  taskUuid: string,
  stepUuid: string,
  options: { reason: string; by: string; processorId?: string },
): Promise<RerunResult> {
  if (typeof options.reason !== 'string' || options.reason.trim().length === 0) {
    throw new TaskerError(ErrorCode.TaskInvalid, 'reason is required to re-run a task from a step', {
      details: { field: 'reason' },
    });
  }
  const [row] = await queryRows<{
    step_state: StepState;
    task_state: TaskState;
    steps_reset: number;
    steps_removed: number;
  }>(
    db,
    { name: 'tasker_rerun_from_step', text: 'SELECT * FROM tasker.rerun_from_step($1, $2, $3, $4, $5)' },
    [taskUuid, stepUuid, options.reason, options.by, options.processorId ?? 'api'],
  );
  return {
    stepState: row!.step_state,
    taskState: row!.task_state,
    stepsReset: row!.steps_reset,
    stepsRemoved: row!.steps_removed,
  };
}
