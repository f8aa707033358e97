import type { Logger } from 'pino';
import type { TaskerConfig } from '../config/index.js';
import type { Queryable } from '../db/pool.js';
import { ErrorCode, TaskerError } from '../errors.js';
import { TaskerAbortError, TaskerTimeoutError } from '../client/errors.js';
import type { NotificationListenerOptions } from '../messaging/listener.js';
import { isFinished, OutcomeReader, settleOutcome, type TaskResults } from './outcome.js';
import { acquireFinishedRegistry, type FinishedRegistryHandle, type TaskFinishedEvent } from './registry.js';

/** How long to wait for a task's result. */
export interface ResultOptions {
  /** Reject with a `TIMEOUT` error (`TaskerTimeoutError`) after this many milliseconds; no limit when omitted. */
  timeoutMs?: number;
  /** Reject with an `ABORTED` error (`TaskerAbortError`, the signal's reason as `cause`) when it fires. */
  signal?: AbortSignal;
}

/** The listener settings of a process, from `common.database.url` and `common.queues`. */
export function listenerOptionsOf(config: TaskerConfig, logger: Logger): NotificationListenerOptions {
  return {
    url: config.common.database.url,
    logger,
    reconnectMinMs: config.common.queues.listener_reconnect_min_ms,
    reconnectMaxMs: config.common.queues.listener_reconnect_max_ms,
  };
}

/**
 * Awaits task results for one component (a {@link Tasker} connection, an orchestrator): reads through its
 * database handle and hears of finished tasks through the process's {@link FinishedRegistry}, acquired on first
 * use and released by `close()`, which also rejects every wait still pending.
 */
export class ResultSource {
  readonly #reader: OutcomeReader;
  readonly #listener: NotificationListenerOptions;
  #registry: Promise<FinishedRegistryHandle> | undefined;
  readonly #cancels = new Set<(error: Error) => void>();
  readonly #listeners = new Set<() => void>();
  #closed = false;

  constructor(db: Queryable, listener: NotificationListenerOptions) {
    this.#reader = new OutcomeReader(db);
    this.#listener = listener;
  }

  #acquire(): Promise<FinishedRegistryHandle> {
    if (this.#closed) return Promise.reject(closedError());
    if (!this.#registry) {
      const acquiring = acquireFinishedRegistry(this.#listener);
      // A failed start is not cached: the next wait tries again.
      acquiring.catch(() => {
        if (this.#registry === acquiring) this.#registry = undefined;
      });
      this.#registry = acquiring;
    }
    return this.#registry;
  }

  /**
   * Resolves to the task's results once it is finished (at once if it already is), or rejects with
   * `TaskFailedError`, `TaskCancelledError`, `TASK_NOT_FOUND`, a timeout or an abort.
   */
  async wait(taskUuid: string, options: ResultOptions = {}): Promise<TaskResults> {
    const { signal, timeoutMs } = options;
    if (timeoutMs !== undefined && (!Number.isFinite(timeoutMs) || timeoutMs < 0)) {
      throw new TaskerError(
        ErrorCode.TaskInvalid,
        `timeoutMs must be a non-negative number, got ${timeoutMs}`,
        {
          details: { field: 'timeoutMs' },
        },
      );
    }
    if (signal?.aborted) throw abortError(taskUuid, signal);
    const { registry } = await this.#acquire();
    return new Promise<TaskResults>((resolve, reject) => {
      let done = false;
      let timer: ReturnType<typeof setTimeout> | undefined;
      const onAbort = (): void => finish(abortError(taskUuid, signal!));
      const finish = (error: Error | undefined, results?: TaskResults): void => {
        if (done) return;
        done = true;
        remove();
        this.#cancels.delete(finish);
        if (timer) clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        if (error) reject(error);
        else resolve(results!);
      };
      // Subscribed (and listening) before the first read: a finish after the read is heard, one before it is read.
      const check = (): void => {
        this.#reader.read(taskUuid).then((outcome) => {
          if (!outcome) return finish(notFound(taskUuid));
          if (!isFinished(outcome)) return;
          const settled = settleOutcome(outcome);
          if (settled.ok) finish(undefined, settled.results);
          else finish(settled.error);
        }, finish);
      };
      const remove = registry.wait(taskUuid, check);
      this.#cancels.add(finish);
      // The signal may have fired while the registry was being acquired.
      if (signal?.aborted) return onAbort();
      signal?.addEventListener('abort', onAbort, { once: true });
      if (timeoutMs !== undefined) {
        timer = setTimeout(
          () =>
            finish(
              new TaskerTimeoutError(`task ${taskUuid} did not finish within ${timeoutMs} ms`, timeoutMs),
            ),
          timeoutMs,
        );
      }
      check();
    });
  }

  /** Calls `listener` for every task that finishes from now on; resolves (to its removal) once listening. */
  async onTaskFinished(listener: (event: TaskFinishedEvent) => void): Promise<() => void> {
    const { registry } = await this.#acquire();
    const remove = registry.listen(listener);
    const unsubscribe = (): void => {
      remove();
      this.#listeners.delete(unsubscribe);
    };
    this.#listeners.add(unsubscribe);
    return unsubscribe;
  }

  /** Rejects pending waits with `SHUTTING_DOWN` and lets go of the registry. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const cancel of [...this.#cancels]) cancel(closedError());
    for (const unsubscribe of [...this.#listeners]) unsubscribe();
    const registry = this.#registry;
    this.#registry = undefined;
    if (registry) await registry.then((r) => r.release()).catch(() => {});
  }
}

function closedError(): TaskerError {
  return new TaskerError(ErrorCode.ShuttingDown, 'closed: no longer waiting for task results');
}

function notFound(taskUuid: string): TaskerError {
  return new TaskerError(ErrorCode.TaskNotFound, `task ${taskUuid} not found`, {
    details: { task_uuid: taskUuid },
  });
}

function abortError(taskUuid: string, signal: AbortSignal): TaskerAbortError {
  return new TaskerAbortError(`stopped waiting for task ${taskUuid}: aborted`, { cause: signal.reason });
}
