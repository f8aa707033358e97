import { workerQueueName } from '../contract/names.js';
import { localClaimerFor } from '../runtime/local-claimers.js';
import type pg from 'pg';
import type { Logger } from 'pino';
import type { TaskerConfig } from '../config/index.js';
import { createPool } from '../db/pool.js';
import { childLogger, silentLogger } from '../observability/logger.js';
import { createTasks } from '../orchestration/bulk-create.js';
import { createTask, type CreateTaskOptions, type CreateTaskRequest } from '../orchestration/task-creator.js';
import { getTask, type TaskView } from '../orchestration/task-queries.js';
import { newProcessId } from '../runtime/process-id.js';
import {
  taskHandle,
  withResult,
  type CreatedTaskHandle,
  type CreateTasksHandleItem,
  type TaskHandle,
} from './handle.js';
import type { TaskFinishedEvent } from './registry.js';
import { listenerOptionsOf, ResultSource } from './source.js';

/** Options of {@link createTasker}. */
export interface TaskerOptions {
  config: TaskerConfig;
  /** Use this pool instead of creating one from `config.common.database` (the caller then owns it). */
  pool?: pg.Pool;
  logger?: Logger;
  /** Recorded as `processor` in the audit trail of the tasks it creates. */
  processorId?: string;
}

/**
 * A connection to Tasker for application code: create tasks and await their results from any process connected
 * to the database, whether it also runs an orchestrator, a worker, or neither. It opens a pool (unless given
 * one) and, on the first wait, joins the process's shared LISTEN connection. `close()` when done.
 *
 * @example
 * const tasker = createTasker({ config: loadConfig() });
 * const task = await tasker.createTask({ namespace: 'shop', name: 'checkout', context: { order: 1 } });
 * const results = await task.result({ timeoutMs: 30_000 }); // { charge: {...}, ship: {...} }
 * await tasker.close();
 */
export class Tasker {
  readonly id: string;
  readonly pool: pg.Pool;
  readonly #config: TaskerConfig;
  readonly #ownsPool: boolean;
  readonly #results: ResultSource;
  #closed = false;

  constructor(options: TaskerOptions) {
    this.#config = options.config;
    this.id = options.processorId ?? newProcessId('client');
    const db = options.config.common.database;
    this.#ownsPool = !options.pool;
    this.pool =
      options.pool ??
      createPool({
        url: db.url,
        maxConnections: db.pool.max_connections,
        idleTimeoutMs: db.pool.idle_timeout_ms,
        acquireTimeoutMs: db.pool.acquire_timeout_ms,
        statementTimeoutMs: db.statement_timeout_ms,
        applicationName: 'tasker-client',
      });
    const logger = childLogger(options.logger ?? silentLogger(), { component: 'tasker' });
    this.#results = new ResultSource(this.pool, listenerOptionsOf(options.config, logger));
  }

  /**
   * Creates a task (one round trip, see the `createTask` function) and returns a handle on it.
   * @throws TaskerError `TASK_INVALID` for an invalid request, `TASK_DUPLICATE` for a strict-identity duplicate.
   */
  async createTask(
    request: CreateTaskRequest,
    options: Pick<CreateTaskOptions, 'traceContext'> = {},
  ): Promise<CreatedTaskHandle> {
    const created = await createTask(this.pool, request, this.id, {
      ...options,
      priority: this.#config.orchestration.priority,
      claimer: localClaimerFor(this.#config.common.database.url, workerQueueName(request.namespace)),
    });
    return withResult(this.#results, created);
  }

  /**
   * Creates many tasks in one round trip (see the `createTasks` function for the identity rules), returning one
   * item per request, in order, each created task with a handle.
   */
  async createTasks(requests: readonly CreateTaskRequest[]): Promise<CreateTasksHandleItem[]> {
    const items = await createTasks(this.pool, requests, this.id, {
      priority: this.#config.orchestration.priority,
    });
    return items.map((item) => (item.ok ? { ok: true, task: withResult(this.#results, item.task) } : item));
  }

  /** A handle on an existing task (created by any process). @throws TaskerError `TASK_INVALID` for a non-UUID. */
  taskHandle(taskUuid: string): TaskHandle {
    return taskHandle(this.#results, taskUuid);
  }

  /**
   * Calls `listener` with every task that finishes (anywhere) from the moment the returned promise resolves, once
   * its finishing transaction committed; resolves to a function that stops it. Tasks that finish while this
   * process's listener is reconnecting are not reported (the handles of awaited tasks re-read their state).
   */
  onTaskFinished(listener: (event: TaskFinishedEvent) => void): Promise<() => void> {
    return this.#results.onTaskFinished(listener);
  }

  /** Reads a task with its steps. */
  getTask(taskUuid: string): Promise<TaskView | undefined> {
    return getTask(this.pool, taskUuid);
  }

  /** Rejects every pending `result()` with `SHUTTING_DOWN`, stops the listeners, and closes the pool it opened. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#results.close();
    if (this.#ownsPool) await this.pool.end();
  }
}

/** Creates a {@link Tasker} connection (nothing is opened until it is used). */
export function createTasker(options: TaskerOptions): Tasker {
  return new Tasker(options);
}
