import { ErrorCode, TaskerError } from '../errors.js';
import type { CreatedTask } from '../orchestration/task-creator.js';
import type { TaskResults } from './outcome.js';
import type { ResultOptions, ResultSource } from './source.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A task that can be awaited. */
export interface TaskHandle {
  readonly taskUuid: string;
  /**
   * Resolves to the task's results by step name once it finishes (at once if it already has): every completed
   * (or operator-resolved) step's result; skipped and cancelled steps are absent. A task an operator resolved
   * (`resolved_manually`) resolves too. No polling: one shared LISTEN connection per process hears the
   * notification the engine sends in the transaction that finishes the task.
   *
   * @throws TaskFailedError (`TASK_FAILED`) when the task ends in `error`, with the failed steps and their errors.
   * @throws TaskCancelledError (`TASK_CANCELLED`) when it is cancelled.
   * @throws TaskerTimeoutError (`TIMEOUT`) after `timeoutMs`; TaskerAbortError (`ABORTED`) when `signal` fires.
   * @throws TaskerError `TASK_NOT_FOUND` when no such task exists; `SHUTTING_DOWN` when its owner is closed.
   */
  result(options?: ResultOptions): Promise<TaskResults>;
}

/** A task just created (or the earlier task its idempotency key named), with {@link TaskHandle.result}. */
export type CreatedTaskHandle = CreatedTask & TaskHandle;

/**
 * One item of `createTasks` with a handle on the created task: `{ ok: true, task }`, or `{ ok: false, error }` for a
 * request refused on its own (a `strict` identity duplicate, `TASK_DUPLICATE`).
 */
export type CreateTasksHandleItem = { ok: true; task: CreatedTaskHandle } | { ok: false; error: TaskerError };

/** Checks that `taskUuid` is a UUID, so a typo fails here rather than as a database error. */
export function assertTaskUuid(taskUuid: unknown): asserts taskUuid is string {
  if (typeof taskUuid !== 'string' || !UUID.test(taskUuid)) {
    throw new TaskerError(
      ErrorCode.TaskInvalid,
      `task uuid must be a UUID, got ${JSON.stringify(taskUuid)}`,
      {
        details: { field: 'taskUuid' },
      },
    );
  }
}

/** A handle on `taskUuid` whose results come from `source`. */
export function taskHandle(source: ResultSource, taskUuid: string): TaskHandle {
  assertTaskUuid(taskUuid);
  return withResult(source, { taskUuid });
}

/**
 * Adds `result()` to `target` as a non-enumerable property: the object still serializes (JSON, logs) and
 * compares as the plain data it was.
 */
export function withResult<T extends { taskUuid: string }>(source: ResultSource, target: T): T & TaskHandle {
  Object.defineProperty(target, 'result', {
    value: (options?: ResultOptions) => source.wait(target.taskUuid, options),
    enumerable: false,
    writable: false,
    configurable: true,
  });
  return target as T & TaskHandle;
}
