import { workerQueueName } from '../contract/names.js';
import { localClaimerFor } from '../runtime/local-claimers.js';
import type pg from 'pg';
import type { Logger } from 'pino';
import type { BoundedChannel } from '../channels/index.js';
import type { TaskerConfig } from '../config/index.js';
import { createPool, type Queryable } from '../db/pool.js';
import { instrumentPool } from '../db/pool-stats.js';
import { DatabaseBreaker } from '../resilience/breaker.js';
import { queryRows } from '../db/query.js';
import { acquireSharedListener, type SharedListenerHandle } from '../messaging/listener.js';
import { QUEUES } from '../contract/names.js';
import { QueueClient } from '../messaging/queue.js';
import { childLogger, silentLogger } from '../observability/logger.js';
import { TaskMetrics, type FinalizedTaskGroup } from '../observability/task-metrics.js';
import { newProcessId } from '../runtime/process-id.js';
import { Pump } from '../runtime/pump.js';
import { WakeupSource } from '../runtime/wakeups.js';
import type { TaskTemplate } from '../templates/types.js';
import { RetryScheduler } from './retry-scheduler.js';
import { StalenessDetector } from './staleness-detector.js';
import { createTask, type CreateTaskRequest } from './task-creator.js';
import { createTasks } from './bulk-create.js';
import {
  taskHandle,
  withResult,
  type CreatedTaskHandle,
  type CreateTasksHandleItem,
  type TaskHandle,
} from '../results/handle.js';
import type { TaskFinishedEvent } from '../results/registry.js';
import { listenerOptionsOf, ResultSource } from '../results/source.js';
import { getTask, type TaskView } from './task-queries.js';
import { registerTemplate, type RegisteredTemplate } from './template-registry.js';
import { WriteHealth } from '../resilience/write-health.js';

export interface OrchestratorOptions {
  config: TaskerConfig;
  /** Use this pool instead of creating one from `config.common.database` (the caller then owns it). */
  pool?: pg.Pool;
  logger?: Logger;
  /** Recorded as `processor` in the audit trail. */
  processorId?: string;
  /** Called after every non-empty result batch with the running totals (progress output, benchmarks). */
  onResultBatch?: (stats: Readonly<OrchestratorStats>) => void;
}

/** Counters of one orchestrator, updated without locks. */
export interface OrchestratorStats {
  resultBatches: number;
  resultsProcessed: number;
  stepsEnqueued: number;
  tasksFinalized: number;
  retriesEnqueued: number;
  staleTasks: number;
}

interface ResultBatchRow {
  results_processed: number;
  steps_enqueued: number;
  tasks_finalized: number;
  next_retry_at: Date | null;
  /** Tasks this batch finalized, by namespace, template and final state. */
  finalized: FinalizedTaskGroup[] | null;
}

/**
 * The orchestration process: creates tasks, settles step results (resolving dependents and enqueueing what
 * became ready), and re-enqueues retries when their backoff elapses. Any number of orchestrators may run
 * against one database; every state change is a compare-and-swap in SQL.
 */
export class Orchestrator {
  readonly id: string;
  readonly pool: pg.Pool;
  /** The breaker in front of the database; every engine call of this orchestrator goes through it. */
  readonly breaker: DatabaseBreaker;
  readonly #db: Queryable;
  readonly stats: OrchestratorStats = {
    resultBatches: 0,
    resultsProcessed: 0,
    stepsEnqueued: 0,
    tasksFinalized: 0,
    retriesEnqueued: 0,
    staleTasks: 0,
  };
  readonly #config: TaskerConfig;
  readonly #logger: Logger;
  readonly #ownsPool: boolean;
  readonly #onResultBatch: ((stats: Readonly<OrchestratorStats>) => void) | undefined;
  readonly #resultPump: Pump;
  readonly #wakeups: WakeupSource;
  readonly #retries: RetryScheduler;
  /** Finds tasks stuck past the configured thresholds (`orchestration.staleness`). */
  readonly staleness: StalenessDetector;
  /**
   * Tasks created, completed, failed and found stale, by template. Register it on the registry of the server
   * that serves this process's `/metrics` (the API server does when given it as `taskMetrics`).
   */
  readonly metrics = new TaskMetrics();
  #listener: SharedListenerHandle | undefined;
  #started = false;
  /** Whether result batches get through (`/health` degraded after repeated failures). */
  readonly #writes: WriteHealth;
  /** Awaits results of the tasks this orchestrator's handles name. */
  readonly #results: ResultSource;

  constructor(options: OrchestratorOptions) {
    this.#config = options.config;
    this.#writes = new WriteHealth(
      'step result batches',
      options.config.common.health.degraded_after_failed_writes,
    );
    this.#logger = childLogger(options.logger ?? silentLogger(), { component: 'orchestrator' });
    this.id = options.processorId ?? newProcessId('orchestrator');
    this.#onResultBatch = options.onResultBatch;
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
        applicationName: 'tasker-orchestrator',
      });
    instrumentPool(this.pool, {
      slowAcquireWarnMs: db.pool.slow_acquire_warn_ms,
      logger: this.#logger,
      name: 'orchestrator',
    });
    this.breaker = new DatabaseBreaker(
      `${this.id}:database`,
      options.config.common.circuit_breakers.database,
      this.#logger,
    );
    this.#db = this.breaker.guard(this.pool);
    this.#results = new ResultSource(this.#db, listenerOptionsOf(options.config, this.#logger));
    const orch = options.config.orchestration;
    this.#retries = new RetryScheduler({
      pool: this.#db,
      processorId: this.id,
      batchSize: orch.result_batch_size,
      pollIntervalMs: orch.retry_poll_interval_ms,
      logger: this.#logger,
      onEnqueued: (n) => {
        this.stats.retriesEnqueued += n;
      },
    });
    this.staleness = new StalenessDetector({
      pool: this.#db,
      settings: orch.staleness,
      processorId: this.id,
      logger: this.#logger,
      onStale: (tasks) => {
        this.stats.staleTasks += tasks.filter((t) => t.action === 'moved_to_error').length;
        this.metrics.tasksStale(tasks);
      },
    });
    this.#resultPump = new Pump({
      name: 'step-results',
      concurrency: orch.max_concurrent_result_batches,
      logger: this.#logger,
      batch: () => this.#processResultBatch(),
    });
    this.#wakeups = new WakeupSource(
      'orchestration.result_wakeups',
      orch.channels.result_wakeups,
      this.#resultPump,
      this.#logger,
    );
  }

  /** Starts listening for results and the retry timer. Migrations must already be applied. */
  async start(): Promise<void> {
    if (this.#started) return;
    this.#started = true;
    await new QueueClient(this.pool).createQueue(QUEUES.StepResults);
    const queues = this.#config.common.queues;
    if (queues.notifications_enabled) {
      this.#listener = await acquireSharedListener({
        url: this.#config.common.database.url,
        logger: this.#logger,
        reconnectMinMs: queues.listener_reconnect_min_ms,
        reconnectMaxMs: queues.listener_reconnect_max_ms,
      });
    }
    await this.#wakeups.start({
      ...(this.#listener ? { listener: this.#listener.listener } : {}),
      queues: [QUEUES.StepResults],
      pollIntervalMs: this.#config.orchestration.result_poll_interval_ms,
    });
    this.#retries.start();
    this.staleness.start();
    this.#logger.info({ id: this.id }, 'orchestrator started');
  }

  /** Stops accepting wake-ups, lets running batches finish, and closes what it opened. */
  async stop(): Promise<void> {
    await this.#results.close();
    if (!this.#started) {
      this.breaker.shutdown();
      // Idempotent: a second stop finds the pool already ended.
      if (this.#ownsPool && !this.pool.ended) await this.pool.end();
      return;
    }
    this.#started = false;
    await this.#wakeups.stop();
    await this.staleness.stop();
    this.#retries.stop();
    await this.#resultPump.stop();
    await this.#retries.idle();
    await this.#listener?.release();
    this.breaker.shutdown();
    if (this.#ownsPool) await this.pool.end();
    this.#logger.info({ id: this.id }, 'orchestrator stopped');
  }

  /** Why this orchestrator is degraded although the database answers (its result batches keep failing). */
  degradedReasons(): string[] {
    const writes = this.#writes.degradedReason;
    return writes ? [writes] : [];
  }

  /** Channels owned by this orchestrator (for a ChannelMonitor). */
  get channels(): BoundedChannel<unknown>[] {
    return [this.#wakeups.channel as BoundedChannel<unknown>];
  }

  /** Registers (idempotently) a template version. */
  registerTemplate(template: TaskTemplate): Promise<RegisteredTemplate & { created: boolean }> {
    return registerTemplate(this.#db, template, {
      maxDecisionDepth: this.#config.orchestration.decision_points.max_depth,
    });
  }

  /**
   * Creates a task and enqueues its root steps, in one transaction; the handle's `result()` awaits it.
   * @throws TaskerError `TASK_INVALID` for an invalid request, e.g. a priority outside `orchestration.priority`.
   */
  async createTask(request: CreateTaskRequest): Promise<CreatedTaskHandle> {
    const created = await createTask(this.#db, request, this.id, {
      priority: this.#config.orchestration.priority,
      maxJsonDepth: this.#config.orchestration.api.max_json_depth,
      claimer: localClaimerFor(this.#config.common.database.url, workerQueueName(request.namespace)),
    });
    if (!created.existing) this.metrics.taskCreated(request.namespace, request.name);
    return withResult(this.#results, created);
  }

  /** Creates many tasks in one round trip (identity rules per task: see the `createTasks` function). */
  async createTasks(requests: readonly CreateTaskRequest[]): Promise<CreateTasksHandleItem[]> {
    const items = await createTasks(this.#db, requests, this.id, {
      priority: this.#config.orchestration.priority,
    });
    return items.map((item, i) => {
      if (!item.ok) return item;
      if (!item.task.existing) this.metrics.taskCreated(requests[i]!.namespace, requests[i]!.name);
      return { ok: true, task: withResult(this.#results, item.task) };
    });
  }

  /** A handle on an existing task. @throws TaskerError `TASK_INVALID` for a non-UUID. */
  taskHandle(taskUuid: string): TaskHandle {
    return taskHandle(this.#results, taskUuid);
  }

  /** Calls `listener` with every task that finishes from now on (see `Tasker.onTaskFinished`). */
  onTaskFinished(listener: (event: TaskFinishedEvent) => void): Promise<() => void> {
    return this.#results.onTaskFinished(listener);
  }

  /** Reads a task with its steps. */
  getTask(taskUuid: string): Promise<TaskView | undefined> {
    return getTask(this.#db, taskUuid);
  }

  /** Processes one batch of results now (used by pollers and tests). Returns true if the batch was full. */
  async #processResultBatch(): Promise<boolean> {
    const limit = this.#config.orchestration.result_batch_size;
    let row: ResultBatchRow | undefined;
    try {
      [row] = await queryRows<ResultBatchRow>(
        this.#db,
        { name: 'tasker_process_step_results', text: 'SELECT * FROM tasker.process_step_results($1, $2)' },
        [limit, this.id],
      );
      this.#writes.succeeded();
    } catch (e) {
      this.#writes.failed(e);
      throw e;
    }
    if (!row) return false;
    if (row.results_processed > 0) {
      this.stats.resultBatches += 1;
      this.stats.resultsProcessed += row.results_processed;
      this.stats.stepsEnqueued += row.steps_enqueued;
      this.stats.tasksFinalized += row.tasks_finalized;
      if (row.finalized && row.finalized.length > 0) this.metrics.tasksFinalized(row.finalized);
      if (this.#logger.isLevelEnabled('debug')) {
        this.#logger.debug(row, 'result batch processed');
      }
      this.#onResultBatch?.(this.stats);
    }
    if (row.next_retry_at) this.#retries.hint(row.next_retry_at);
    return row.results_processed >= limit;
  }
}

/** Creates an orchestrator (call `start()` to run it). */
export function createOrchestrator(options: OrchestratorOptions): Orchestrator {
  return new Orchestrator(options);
}
