import { setMaxListeners } from 'node:events';
import type pg from 'pg';
import type { Logger } from 'pino';
import { Semaphore, channelFromConfig, type BoundedChannel } from '../channels/index.js';
import type { TaskerConfig } from '../config/index.js';
import { mapDbError } from '../db/errors.js';
import { queryRows } from '../db/query.js';
import { TransitionConflictError } from '../errors.js';
import { createPool, type Queryable } from '../db/pool.js';
import { instrumentPool } from '../db/pool-stats.js';
import { DatabaseBreaker } from '../resilience/breaker.js';
import { acquireSharedListener, type SharedListenerHandle } from '../messaging/listener.js';
import { CANCELLATIONS_CHANNEL } from '../orchestration/operations.js';
import { QueueClient, workerQueueName } from '../messaging/queue.js';
import { childLogger, silentLogger } from '../observability/logger.js';
import { currentTracing } from '../observability/tracing.js';
import { EventDeclarationCache } from '../events/declarations.js';
import { DomainEventSystem } from '../events/event-system.js';
import { buildStepEvents, type EventPublisherDefinition } from '../events/publisher.js';
import { domainEventsQueueName, toEventMessage, type DomainEvent } from '../events/types.js';
import { WorkerMetrics } from '../observability/worker-metrics.js';
import { TaskMetrics, type FinalizedTaskGroup } from '../observability/task-metrics.js';
import { registerTemplate } from '../orchestration/template-registry.js';
import { newProcessId } from '../runtime/process-id.js';
import { Pump } from '../runtime/pump.js';
import { WakeupSource } from '../runtime/wakeups.js';
import type { TaskTemplate } from '../templates/types.js';
import { claimedStepFromRow, type ClaimRow, type ClaimedStep, type Completion } from './claimed-step.js';
import { HandlerRegistry, type HandlerDefinition } from './handler.js';
import type { CheckpointData } from './dynamic.js';
import { runStep } from './step-runner.js';
import { errorLimitsOf } from './error-record.js';
import { HandlerThreadPool, type ThreadPoolStats } from './thread-pool.js';
import { extendLeases, RecentCancellations, ReleaseReason, releaseSteps } from './leases.js';
import { WriteHealth } from '../resilience/write-health.js';

/** Reported after a step's outcome has been written back (for progress output and tests). */
export interface StepFinishedEvent {
  taskUuid: string;
  stepUuid: string;
  stepName: string;
  namespace: string;
  handler: string;
  attempt: number;
  success: boolean;
  durationMs: number;
  error?: { name: string; message: string; code?: string; retryable: boolean };
}

export interface WorkerOptions {
  config: TaskerConfig;
  handlers: Iterable<HandlerDefinition>;
  /** Namespaces whose queues this worker serves. Defaults to the namespaces of `templates`. */
  namespaces?: readonly string[];
  /** Templates to register (idempotently) at start-up. */
  templates?: readonly TaskTemplate[];
  /** Pool for claims and heartbeats; created from config when omitted (then owned by the worker). */
  pool?: pg.Pool;
  logger?: Logger;
  workerId?: string;
  onStepFinished?: (event: StepFinishedEvent) => void;
  /** Payload publishers that template event declarations name (`publishes_events[].publisher`). */
  eventPublishers?: Iterable<EventPublisherDefinition>;
  /**
   * Where tasks this worker finalizes on the fast path (`worker.resolve_in_completion`) are counted: pass the
   * orchestrator's `metrics` when both run in one process, so one set of counters serves `/metrics`.
   */
  taskMetrics?: TaskMetrics;
  /** The event system fast events go to; the process's shared one ({@link DomainEventSystem.shared}) by default. */
  events?: DomainEventSystem;
}

/** Counters of one worker, updated without locks. */
export interface WorkerStats {
  claimed: number;
  completed: number;
  failed: number;
  completionBatches: number;
  completionsRejected: number;
  handlersRunning: number;
  maxHandlersRunning: number;
  inFlight: number;
  /** Claimed steps handed back on shutdown before their handler started. */
  releasedOnShutdown: number;
  /** Handlers aborted by this worker's shutdown, handed back without their attempt counted. */
  abortedOnShutdown: number;
  /** Claimed steps not started because their task was cancelled first (no handler call, no attempt used). */
  cancelledBeforeStart: number;
  /** Claimed steps handed back because no handler slot freed up within half the visibility timeout. */
  releasedNotStarted: number;
  /** Handlers told to stop that did not return within `worker.abandon_timeout_ms` and still run. */
  abandonedHandlers: number;
  /** Handlers abandoned since the worker started. */
  abandonedHandlersTotal: number;
  /** Thread-handler steps refused by a full thread pool (HANDLER_BACKPRESSURE) and dispatched again later. */
  deferredOnBackpressure: number;
  /** Durable domain events written with their step's result. */
  durableEventsWritten: number;
  /** Fast domain events handed to the event system (after their result was written). */
  fastEventsPublished: number;
  /** Domain events not published because their publisher was missing or failed. */
  eventsFailed: number;
}

/** A completion batch ready for complete_steps, with the domain events of each result. */
interface CompletionPayload {
  payload: string;
  events: Map<string, { durable: number; fast: DomainEvent[] }> | undefined;
}

/** In-flight steps are keyed by step and attempt: a stalled attempt and its replacement can both be here. */
function inFlightKey(step: ClaimedStep): string {
  return `${step.stepUuid}:${step.attempt}`;
}

interface InFlight {
  step: ClaimedStep;
  /** Aborted when the step's task is cancelled. */
  cancel: AbortController;
  /** Its handler has started (a step that never started can be handed back on shutdown). */
  started: boolean;
  /** When it was claimed (ms since the epoch): an unstarted step is handed back before its lease runs out. */
  claimedAt: number;
}

/**
 * A worker process: claims steps of its namespaces, runs their handlers with bounded concurrency and timeouts,
 * and writes outcomes back in batches. Claiming is push-driven (LISTEN/NOTIFY) with polling as the fallback; a
 * running step's message stays invisible through heartbeats, so a worker that dies has its steps claimed again
 * once their visibility timeout expires.
 */
export class Worker {
  readonly id: string;
  /** Step duration and attempts by handler; registered on whichever server serves this process's `/metrics`. */
  readonly metrics = new WorkerMetrics();
  /** Tasks finalized by this worker's completions (fast path only; the orchestrator counts the default path). */
  readonly taskMetrics: TaskMetrics;
  readonly stats: WorkerStats = {
    claimed: 0,
    completed: 0,
    failed: 0,
    completionBatches: 0,
    completionsRejected: 0,
    handlersRunning: 0,
    maxHandlersRunning: 0,
    inFlight: 0,
    releasedOnShutdown: 0,
    abortedOnShutdown: 0,
    cancelledBeforeStart: 0,
    releasedNotStarted: 0,
    abandonedHandlers: 0,
    abandonedHandlersTotal: 0,
    deferredOnBackpressure: 0,
    durableEventsWritten: 0,
    fastEventsPublished: 0,
    eventsFailed: 0,
  };
  /** The process's domain-event system: subscribe here to the fast events of this process's steps. */
  readonly events: DomainEventSystem;
  readonly #eventDeclarations: EventDeclarationCache;
  readonly #eventPublishers: ReadonlyMap<string, EventPublisherDefinition>;
  readonly #config: TaskerConfig;
  readonly #logger: Logger;
  readonly #registry: HandlerRegistry;
  /** Runs thread handlers; exists only when one is registered. */
  readonly #threadPool: HandlerThreadPool | undefined;
  /** Timers of steps waiting to be dispatched again after HANDLER_BACKPRESSURE. */
  readonly #deferrals = new Set<ReturnType<typeof setTimeout>>();
  readonly #templates: readonly TaskTemplate[];
  readonly #namespaces: readonly string[];
  readonly #pool: pg.Pool;
  readonly #completionPool: pg.Pool;
  /** The breaker in front of the database; claims, completions and heartbeats go through it. */
  readonly breaker: DatabaseBreaker;
  readonly #db: Queryable;
  readonly #completionDb: Queryable;
  readonly #ownsPool: boolean;
  readonly #onStepFinished: ((e: StepFinishedEvent) => void) | undefined;
  /** Capacity promised to claim queries still running (one claim loop per namespace). */
  #reservedCapacity = 0;
  /** Claimed, unfinished steps by {@link inFlightKey}. */
  readonly #inFlight = new Map<string, InFlight>();
  readonly #dispatch: BoundedChannel<ClaimedStep>;
  readonly #completions: BoundedChannel<Completion>;
  readonly #handlerSlots: Semaphore;
  readonly #completionSlots: Semaphore;
  readonly #shutdown = new AbortController();
  readonly #pumps = new Map<string, { pump: Pump; wakeups: WakeupSource }>();
  readonly #handlerRuns = new Set<Promise<unknown>>();
  readonly #completionWrites = new Set<Promise<unknown>>();
  #listener: SharedListenerHandle | undefined;
  #heartbeat: ReturnType<typeof setInterval> | undefined;
  #dispatchLoop: Promise<void> | undefined;
  #completionLoop: Promise<void> | undefined;
  #started = false;
  #claiming = false;
  #unsubscribeCancellations: (() => void) | undefined;
  /** A claim was held back (or cut short) for lack of capacity: freeing capacity must trigger a claim. */
  #starved = false;
  /**
   * Set when claimed steps had to be handed back because no handler slot freed up in time: claiming ahead of
   * free slots would only take them again. Cleared as soon as a handler finishes.
   */
  #prefetchSuspended = false;
  /** Whether completion writes get through (`/health` degraded after repeated failures). */
  readonly #writes: WriteHealth;
  readonly #recentCancellations = new RecentCancellations();

  constructor(options: WorkerOptions) {
    this.#config = options.config;
    this.id = options.workerId ?? newProcessId('worker');
    this.#logger = childLogger(options.logger ?? silentLogger(), { component: 'worker', worker: this.id });
    this.#registry = new HandlerRegistry(options.handlers);
    this.#threadPool = this.#registry.hasThreadHandlers
      ? new HandlerThreadPool(options.config.worker.thread_pool, this.#logger)
      : undefined;
    this.#templates = options.templates ?? [];
    const namespaces = new Set(options.namespaces ?? this.#templates.map((t) => t.namespace));
    this.#namespaces = [...namespaces];
    this.#onStepFinished = options.onStepFinished;
    const w = options.config.worker;
    const db = options.config.common.database;
    this.#ownsPool = !options.pool;
    this.#pool =
      options.pool ??
      createPool({
        url: db.url,
        maxConnections: Math.max(2, Math.min(db.pool.max_connections, this.#namespaces.length + 2)),
        idleTimeoutMs: db.pool.idle_timeout_ms,
        acquireTimeoutMs: db.pool.acquire_timeout_ms,
        statementTimeoutMs: db.statement_timeout_ms,
        applicationName: 'tasker-worker',
      });
    // Completions get their own pool and time limit: a slow claim can never hold up writing results, and a
    // write is bounded by its own timeout rather than by the handler's or the caller's cancellation.
    this.#completionPool = createPool({
      url: db.url,
      maxConnections: w.max_concurrent_completions,
      idleTimeoutMs: db.pool.idle_timeout_ms,
      acquireTimeoutMs: db.pool.acquire_timeout_ms,
      statementTimeoutMs: w.completion_timeout_ms,
      queryTimeoutMs: w.completion_timeout_ms + 1000,
      applicationName: 'tasker-worker-completions',
    });
    for (const [pool, name] of [
      [this.#pool, 'worker'],
      [this.#completionPool, 'worker-completions'],
    ] as const) {
      instrumentPool(pool, { slowAcquireWarnMs: db.pool.slow_acquire_warn_ms, logger: this.#logger, name });
    }
    this.breaker = new DatabaseBreaker(
      `${this.id}:database`,
      options.config.common.circuit_breakers.database,
      this.#logger,
    );
    this.#db = this.breaker.guard(this.#pool);
    this.#completionDb = this.breaker.guard(this.#completionPool);
    this.#dispatch = channelFromConfig('worker.dispatch', w.channels.dispatch);
    this.#completions = channelFromConfig('worker.completion', w.channels.completion);
    this.#handlerSlots = new Semaphore(w.max_concurrent_handlers);
    // Every running handler listens on the shutdown signal (removed when it ends); more than Node's default of
    // 10 at once is normal here, not a leak.
    setMaxListeners(w.max_concurrent_handlers + w.claim_batch_size + 10, this.#shutdown.signal);
    this.#completionSlots = new Semaphore(w.max_concurrent_completions);
    this.#writes = new WriteHealth(
      'step completion writes',
      options.config.common.health.degraded_after_failed_writes,
    );
    this.taskMetrics = options.taskMetrics ?? new TaskMetrics();
    this.events = options.events ?? DomainEventSystem.shared();
    this.events.configure(options.config.common.channels.domain_events, this.#logger);
    this.#eventDeclarations = new EventDeclarationCache(this.#db, this.#templates);
    this.#eventPublishers = new Map([...(options.eventPublishers ?? [])].map((p) => [p.name, p]));
    this.metrics.readSourcesFrom({
      abandonedHandlers: () => this.stats.abandonedHandlers,
      threadPool: () => this.threadPoolStats,
      events: () => ({
        durable_written: this.stats.durableEventsWritten,
        fast_published: this.stats.fastEventsPublished,
        publisher_failures: this.stats.eventsFailed,
        dropped: this.events.stats.dropped,
        delivered: this.events.stats.delivered,
        subscriber_failures: this.events.stats.subscriberFailures,
      }),
    });
  }

  /** The namespaces this worker serves. */
  get namespaces(): readonly string[] {
    return this.#namespaces;
  }

  /** The worker's database pools (claims and heartbeats; completion writes), for health and metrics. */
  get pools(): readonly { name: string; pool: pg.Pool }[] {
    return [
      { name: 'worker', pool: this.#pool },
      { name: 'worker-completions', pool: this.#completionPool },
    ];
  }

  /**
   * Why this worker is degraded although the database answers: its completion writes keep failing, or handlers
   * that were told to stop still run (abandoned). Empty when there is no such reason.
   */
  degradedReasons(): string[] {
    const reasons: string[] = [];
    const writes = this.#writes.degradedReason;
    if (writes) reasons.push(writes);
    if (this.stats.abandonedHandlers > 0) {
      reasons.push(
        `${this.stats.abandonedHandlers} abandoned handler(s) still running: they ignored their abort signal ` +
          `for longer than worker.abandon_timeout_ms`,
      );
    }
    return reasons;
  }

  /** The handler thread pool's state and counters (undefined when no thread handler is registered). */
  get threadPoolStats(): ThreadPoolStats | undefined {
    return this.#threadPool?.stats;
  }

  /** Channels owned by this worker (for monitoring). */
  get channels(): BoundedChannel<unknown>[] {
    return [
      this.#dispatch as BoundedChannel<unknown>,
      this.#completions as BoundedChannel<unknown>,
      ...[...this.#pumps.values()].map(({ wakeups }) => wakeups.channel as BoundedChannel<unknown>),
      // Shared by the whole process (one event system per process); listed here so it is monitored.
      this.events.channel as BoundedChannel<unknown>,
    ];
  }

  async start(): Promise<void> {
    if (this.#started) return;
    if (this.#namespaces.length === 0) {
      throw new TypeError('a worker needs at least one namespace (pass namespaces or templates)');
    }
    this.#started = true;
    if (this.#registry.size === 0) {
      this.#logger.warn('worker started with no handlers: every step it claims will fail');
    }
    for (const t of this.#templates) {
      await registerTemplate(this.#pool, t, {
        maxDecisionDepth: this.#config.orchestration.decision_points.max_depth,
      });
    }
    const queues = new QueueClient(this.#pool);
    for (const ns of this.#namespaces) {
      await queues.createQueue(workerQueueName(ns));
      await queues.createQueue(domainEventsQueueName(ns));
    }
    await this.#warnAboutMissingHandlers();

    this.#dispatchLoop = this.#runDispatchLoop();
    this.#completionLoop = this.#runCompletionLoop();

    const q = this.#config.common.queues;
    if (q.notifications_enabled) {
      this.#listener = await acquireSharedListener({
        url: this.#config.common.database.url,
        logger: this.#logger,
        reconnectMinMs: q.listener_reconnect_min_ms,
        reconnectMaxMs: q.listener_reconnect_max_ms,
      });
    }
    if (this.#listener) {
      this.#unsubscribeCancellations = await this.#listener.listener.subscribe(
        CANCELLATIONS_CHANNEL,
        (_c, payload) => this.#abortCancelled(payload),
      );
    }
    this.#claiming = true;
    for (const ns of this.#namespaces) {
      const queue = workerQueueName(ns);
      const pump = new Pump({
        name: `claim:${queue}`,
        concurrency: 1,
        logger: this.#logger,
        batch: () => this.#claimBatch(queue),
      });
      const wakeups = new WakeupSource(
        `worker.wakeups.${ns}`,
        this.#config.common.channels.listener_notifications,
        pump,
        this.#logger,
      );
      this.#pumps.set(queue, { pump, wakeups });
      await wakeups.start({
        ...(this.#listener ? { listener: this.#listener.listener } : {}),
        queues: [queue],
        pollIntervalMs: this.#config.worker.poll_interval_ms,
      });
    }
    this.#heartbeat = setInterval(
      () => void this.#heartbeatTick(),
      this.#config.worker.heartbeat_interval_ms,
    );
    this.#heartbeat.unref();
    this.#logger.info({ namespaces: this.#namespaces, handlers: this.#registry.size }, 'worker started');
  }

  /**
   * Graceful shutdown: stop claiming, hand back claimed steps whose handlers have not started, give running
   * handlers `worker.shutdown_timeout_ms` to finish, then abort them (a handler that still does not return within
   * `worker.abandon_timeout_ms` is abandoned), write every finished outcome and hand back the rest. Steps handed
   * back cost no attempt: their handlers never ran to an outcome through any fault of their own.
   */
  async stop(): Promise<void> {
    if (!this.#started) {
      await this.#threadPool?.close();
      await this.#closePools();
      return;
    }
    this.#started = false;
    this.#claiming = false;
    for (const { pump, wakeups } of this.#pumps.values()) {
      await wakeups.stop();
      await pump.stop();
    }
    // Claimed steps that never got a handler slot are handed back at once (their messages become visible for
    // other workers) instead of starting now; the dispatch loop is let go even if it waits for a slot.
    this.#dispatch.drain(Number.MAX_SAFE_INTEGER);
    this.#dispatch.close();
    this.#handlerSlots.close();
    await this.#dispatchLoop;
    const notStarted = [...this.#inFlight.values()].filter((f) => !f.started).map((f) => f.step);
    if (notStarted.length > 0) {
      this.stats.releasedOnShutdown += notStarted.length;
      await this.#release(notStarted, ReleaseReason.Shutdown);
    }

    const w = this.#config.worker;
    if (!(await settlesWithin(this.#handlerRuns, w.shutdown_timeout_ms))) {
      this.#logger.warn(
        { running: this.#handlerRuns.size },
        'shutdown grace period over: aborting running handlers',
      );
      this.#shutdown.abort(new Error('worker shutting down'));
      // Each run gives up on its handler after abandon_timeout_ms; the margin covers queuing its outcome.
      await settlesWithin(this.#handlerRuns, w.abandon_timeout_ms + 1000);
    }
    // Every handler has returned or was abandoned, so the thread pool has nothing left to run (steps deferred
    // for back-pressure were handed back above with the ones that never started).
    for (const timer of this.#deferrals) clearTimeout(timer);
    this.#deferrals.clear();
    await this.#threadPool?.close();
    this.#completions.close();
    await this.#completionLoop;
    // Outcomes are written within their own time limit; a write still failing then is given up (the step
    // comes back after its visibility timeout), so a database outage cannot hold the exit.
    await settlesWithin(this.#completionWrites, w.completion_timeout_ms + 1000);
    // Fast events of the last results reach their subscribers before the process goes (bounded wait).
    if (!(await this.events.drain(this.#config.common.domain_events.shutdown_drain_timeout_ms))) {
      this.#logger.warn('shutdown: fast domain events still undelivered after the drain timeout');
    }
    if (this.#heartbeat) clearInterval(this.#heartbeat);
    this.#unsubscribeCancellations?.();
    // What is left was aborted by this shutdown (or abandoned): handed back without its attempt counted.
    const unfinished = [...this.#inFlight.values()].map((f) => f.step);
    this.stats.abortedOnShutdown += unfinished.length;
    await this.#release(unfinished, ReleaseReason.AbortedByShutdown);
    await this.#listener?.release();
    await this.#closePools();
    this.#logger.info('worker stopped');
  }

  async #closePools(): Promise<void> {
    this.breaker.shutdown();
    await this.#completionPool.end().catch(() => {});
    if (this.#ownsPool) await this.#pool.end().catch(() => {});
  }

  async #warnAboutMissingHandlers(): Promise<void> {
    const res = await this.#pool.query<{ template: string; step: string; handler: string }>(
      `SELECT t.namespace || '/' || t.name || '@' || t.version AS template, s.name AS step, s.handler
       FROM tasker.template_steps s JOIN tasker.templates t ON t.template_uuid = s.template_uuid
       WHERE t.namespace = ANY($1) ORDER BY 1, s.position`,
      [this.#namespaces],
    );
    for (const row of res.rows) {
      if (!this.#registry.has(row.handler)) {
        this.#logger.warn(
          row,
          'template step has no registered handler in this worker: it will fail if claimed here',
        );
      }
    }
  }

  /** Capacity for claimed-but-unfinished steps: one handler slot each, plus one claim batch of prefetch. */
  #freeCapacity(): number {
    const w = this.#config.worker;
    const prefetch = this.#prefetchSuspended ? 0 : w.claim_batch_size;
    return w.max_concurrent_handlers + prefetch - this.#inFlight.size - this.#reservedCapacity;
  }

  async #claimBatch(queue: string): Promise<boolean> {
    if (!this.#claiming) return false;
    const free = this.#freeCapacity();
    if (free <= 0) {
      this.#starved = true;
      return false;
    }
    const batchSize = this.#config.worker.claim_batch_size;
    const limit = Math.min(batchSize, free);
    // Reserved before the query: the claim loops of other namespaces run concurrently and must not claim
    // against the same free capacity.
    this.#reservedCapacity += limit;
    const claimed: ClaimedStep[] = [];
    let rows: ClaimRow[];
    try {
      rows = await queryRows<ClaimRow>(
        this.#db,
        { name: 'tasker_claim_steps', text: 'SELECT * FROM tasker.claim_steps($1, $2, $3, $4)' },
        [queue, limit, this.#config.common.queues.visibility_timeout_seconds, this.id],
      );
      // Counted in flight before the reservation is given back (no await in between).
      for (const row of rows) {
        const step = claimedStepFromRow(queue, row);
        const entry = { step, cancel: new AbortController(), started: false, claimedAt: Date.now() };
        // The cancellation may have been heard while this claim was on its way back.
        if (this.#recentCancellations.has(step.taskUuid)) entry.cancel.abort(cancelledReason(step.taskUuid));
        this.#inFlight.set(inFlightKey(step), entry);
        claimed.push(step);
      }
    } finally {
      this.#reservedCapacity -= limit;
    }
    this.stats.claimed += claimed.length;
    this.stats.inFlight = this.#inFlight.size;
    for (const step of claimed) await this.#dispatch.send(step);
    if (rows.length === limit && limit < batchSize) this.#starved = true;
    return rows.length === limit;
  }

  async #runDispatchLoop(): Promise<void> {
    for await (const step of this.#dispatch) {
      let release: () => void;
      try {
        release = await this.#handlerSlots.acquire();
      } catch {
        return; // semaphore closed: shutting down
      }
      const entry = this.#inFlight.get(inFlightKey(step));
      if (!entry) {
        release(); // handed back while it waited for a slot
        continue;
      }
      if (entry.cancel.signal.aborted) {
        // Its task was cancelled before the handler started: no handler call, and the attempt is given back.
        release();
        this.stats.cancelledBeforeStart += 1;
        void this.#release([step], ReleaseReason.TaskCancelled).then(() => this.#wakeClaimers());
        continue;
      }
      const run = this.#execute(step).finally(() => {
        release();
        if (this.#prefetchSuspended) {
          this.#prefetchSuspended = false;
          this.#wakeClaimers();
        }
      });
      this.#handlerRuns.add(run);
      void run.finally(() => this.#handlerRuns.delete(run));
    }
  }

  async #execute(step: ClaimedStep): Promise<void> {
    const entry = this.#inFlight.get(inFlightKey(step));
    if (entry) entry.started = true;
    this.stats.handlersRunning += 1;
    this.stats.maxHandlersRunning = Math.max(this.stats.maxHandlersRunning, this.stats.handlersRunning);
    try {
      // A `step.execute` span around the handler run when tracing is on (parented on the message's trace
      // context); otherwise the call goes straight through.
      const { record, settled, backpressure } = await currentTracing().traceStepExecute(step, this.id, () =>
        runStep(step, this.#registry, {
          workerId: this.id,
          defaultTimeoutMs: this.#config.worker.handler_timeout_ms,
          logger: this.#logger,
          shutdownSignal: this.#shutdown.signal,
          cancelSignal: this.#inFlight.get(inFlightKey(step))?.cancel.signal,
          threadPool: this.#threadPool,
          saveCheckpoint: (s, data) => this.#saveCheckpoint(s, data),
          errorLimits: errorLimitsOf(this.#config.worker),
          maxResultDepth: this.#config.worker.max_result_depth,
        }),
      );
      if (backpressure) {
        this.#deferStep(step);
        return;
      }
      // Aborted by this worker's own shutdown: not the handler's failure. No outcome is written; stop() hands
      // the step back without its attempt counted.
      const abortedByShutdown = !record.success && this.#shutdown.signal.aborted;
      // The outcome is queued for writing now; the slot is held until the handler has really stopped.
      if (!abortedByShutdown) await this.#completions.send({ step, record });
      await this.#awaitHandlerStop(step, settled);
    } finally {
      this.stats.handlersRunning -= 1;
    }
  }

  /**
   * Holds the handler slot until the handler has really stopped, but no longer than `worker.abandon_timeout_ms`
   * after it was told to stop: a handler that ignores its signal is abandoned (counted, reported in `/health`,
   * its slot freed) instead of wedging the worker.
   */
  async #awaitHandlerStop(step: ClaimedStep, settled: Promise<unknown>): Promise<void> {
    if (await settlesWithin([settled], this.#config.worker.abandon_timeout_ms)) return;
    this.stats.abandonedHandlers += 1;
    this.stats.abandonedHandlersTotal += 1;
    this.metrics.handlerAbandoned(step.handler);
    this.#logger.error(
      {
        step: step.stepUuid,
        handler: step.handler,
        abandonTimeoutMs: this.#config.worker.abandon_timeout_ms,
      },
      'handler ignored its abort signal: abandoned (its slot is freed; it keeps running until it returns)',
    );
    void settled.finally(() => {
      this.stats.abandonedHandlers -= 1;
    });
  }

  /**
   * The thread pool was full (HANDLER_BACKPRESSURE) and the handler never started. The step stays claimed here
   * (heartbeats keep its lease) and is dispatched again after `worker.thread_pool.backpressure_retry_ms`:
   * nothing is written, so no attempt is used, and its handler slot is free meanwhile. Handing the message back
   * to the queue instead would cost an attempt when it is claimed again (and fail a step on its last one).
   * On shutdown it is handed back like any step that never started.
   */
  #deferStep(step: ClaimedStep): void {
    this.stats.deferredOnBackpressure += 1;
    const entry = this.#inFlight.get(inFlightKey(step));
    if (entry) entry.started = false;
    const timer = setTimeout(() => {
      this.#deferrals.delete(timer);
      if (!this.#claiming || !this.#inFlight.has(inFlightKey(step))) return;
      this.#dispatch.send(step).catch((err: unknown) => {
        // Only a closed channel fails a send here (shutting down): stop() hands the step back.
        this.#logger.debug({ err, step: step.stepUuid }, 'deferred step not dispatched again');
      });
    }, this.#config.worker.thread_pool.backpressure_retry_ms);
    this.#deferrals.add(timer);
  }

  async #runCompletionLoop(): Promise<void> {
    const batchSize = this.#config.worker.completion_batch_size;
    for (;;) {
      const first = await this.#completions.receive();
      if (first === undefined) return;
      const batch = [first, ...this.#completions.drain(batchSize - 1)];
      const release = await this.#completionSlots.acquire();
      const write = this.#writeCompletions(batch).finally(release);
      this.#completionWrites.add(write);
      void write.finally(() => this.#completionWrites.delete(write));
    }
  }

  /**
   * Writes a batch of outcomes in one transaction. A failed write is retried with backoff for up to one
   * visibility timeout; after that the messages reappear by themselves and the steps run again, so nothing is
   * lost either way.
   */
  async #writeCompletions(batch: Completion[]): Promise<void> {
    const deadline = Date.now() + this.#config.common.queues.visibility_timeout_seconds * 1000;
    let delay = 50;
    let applied: Map<string, boolean> | undefined;
    let prepared: CompletionPayload | undefined;
    while (!applied) {
      try {
        prepared ??= await this.#completionPayload(batch);
        const payload = prepared.payload;
        const res = await this.#completionDb.query<{
          step_uuid: string;
          attempt: number;
          applied: boolean;
          finalized: FinalizedTaskGroup[] | null;
        }>({
          name: 'tasker_complete_steps',
          text: 'SELECT * FROM tasker.complete_steps($1, $2, $3)',
          values: [payload, this.id, this.#config.worker.resolve_in_completion],
        });
        // Keyed by step and attempt: a stalled attempt and its replacement can share a batch.
        applied = new Map(res.rows.map((r) => [`${r.step_uuid}:${r.attempt}`, r.applied]));
        this.#writes.succeeded();
        const finalized = res.rows[0]?.finalized;
        if (finalized && finalized.length > 0) this.taskMetrics.tasksFinalized(finalized);
      } catch (e) {
        this.#writes.failed(mapDbError(e));
        if (Date.now() + delay > deadline) {
          this.#logger.error(
            { err: mapDbError(e), steps: batch.length },
            'could not write step outcomes; the steps will be claimed again after their visibility timeout',
          );
          for (const c of batch) this.#inFlight.delete(inFlightKey(c.step));
          this.stats.inFlight = this.#inFlight.size;
          this.#wakeClaimers();
          return;
        }
        this.#logger.warn({ err: mapDbError(e), retryInMs: delay }, 'writing step outcomes failed; retrying');
        await new Promise((r) => setTimeout(r, delay));
        delay = Math.min(delay * 2, 2000);
      }
    }
    this.stats.completionBatches += 1;
    for (const c of batch) {
      this.#inFlight.delete(inFlightKey(c.step));
      if (!applied.get(`${c.step.stepUuid}:${c.step.attempt}`)) {
        // The compare-and-swap lost: our lease expired and the step was claimed again (or cancelled). The attempt
        // that replaced ours owns the step; ours is dropped, which is the correct outcome of the race.
        this.stats.completionsRejected += 1;
        const conflict = new TransitionConflictError(
          'step',
          c.step.stepUuid,
          `in_progress@${c.step.attempt}`,
          null,
        );
        this.#logger.warn(
          { err: conflict },
          'step outcome discarded: the step was claimed again after this worker lost its lease',
        );
        continue;
      }
      if (c.record.success) this.stats.completed += 1;
      else this.stats.failed += 1;
      this.#afterApplied(c, prepared);
      this.metrics.observeAttempt({
        handler: c.step.handler,
        success: c.record.success,
        durationMs: c.record.metadata.execution_time_ms,
        errorRetryable: c.record.error?.retryable,
        stepRetryable: c.step.retryable,
        attempt: c.step.attempt,
        maxAttempts: c.step.maxAttempts,
      });
      this.#emitFinished(c);
    }
    this.stats.inFlight = this.#inFlight.size;
    this.#wakeClaimers();
  }

  /**
   * The completion batch as complete_steps takes it, with each result's durable domain events attached (written
   * in the same transaction, only for results that are applied). Fast events are returned to be published once
   * the transaction has committed and their result was applied.
   */
  async #completionPayload(batch: readonly Completion[]): Promise<CompletionPayload> {
    let events: Map<string, { durable: number; fast: DomainEvent[] }> | undefined;
    const entries = [];
    for (const c of batch) {
      const entry: Record<string, unknown> = {
        step_uuid: c.step.stepUuid,
        msg_id: c.step.msgId,
        attempt: c.step.attempt,
        success: c.record.success,
        results: c.record,
      };
      const found = this.#eventDeclarations.forStep(c.step, c.step.stepName);
      const declarations = Array.isArray(found) ? found : await found;
      if (declarations.length > 0) {
        const built = buildStepEvents(c.step, c.record, declarations, this.#eventPublishers, this.#logger);
        this.stats.eventsFailed += built.failed;
        if (built.durable.length > 0) entry.events = built.durable.map(toEventMessage);
        if (built.durable.length + built.fast.length > 0) {
          (events ??= new Map()).set(c.step.stepUuid, { durable: built.durable.length, fast: built.fast });
        }
      }
      entries.push(entry);
    }
    return { payload: JSON.stringify(entries), events };
  }

  /**
   * A result was applied (committed, and orchestration has it): its durable events were written with it, and
   * its fast events go to the event system now, which never blocks or fails the step.
   */
  #afterApplied(c: Completion, prepared: CompletionPayload | undefined): void {
    const events = prepared?.events?.get(c.step.stepUuid);
    if (!events) return;
    this.stats.durableEventsWritten += events.durable;
    this.events.stats.durableWritten += events.durable;
    if (events.fast.length > 0) this.stats.fastEventsPublished += this.events.publish(events.fast);
  }

  #emitFinished(c: Completion): void {
    if (!this.#onStepFinished) return;
    const e = c.record.error;
    try {
      this.#onStepFinished({
        taskUuid: c.step.taskUuid,
        stepUuid: c.step.stepUuid,
        stepName: c.step.stepName,
        namespace: c.step.namespace,
        handler: c.step.handler,
        attempt: c.step.attempt,
        success: c.record.success,
        durationMs: c.record.metadata.execution_time_ms,
        ...(e
          ? {
              error: {
                name: e.name,
                message: e.message,
                retryable: e.retryable,
                ...(e.code ? { code: e.code } : {}),
              },
            }
          : {}),
      });
    } catch (err) {
      this.#logger.warn({ err }, 'onStepFinished callback threw');
    }
  }

  /** Persists a batch worker's progress for its current attempt (refused once the attempt lost the step). */
  async #saveCheckpoint(step: ClaimedStep, data: CheckpointData): Promise<boolean> {
    const rows = await queryRows<{ saved: boolean }>(
      this.#db,
      { name: 'tasker_checkpoint_step', text: 'SELECT tasker.checkpoint_step($1, $2, $3) AS saved' },
      [step.stepUuid, step.attempt, JSON.stringify(data)],
    );
    return rows[0]?.saved === true;
  }

  /** A task was cancelled: abort the handlers running its steps here, and never start its claimed steps. */
  #abortCancelled(payload: string | undefined): void {
    if (!payload) {
      // The listener reconnected: cancellations sent meanwhile were missed, so ask the database once.
      void this.#abortCancelledInFlight();
      return;
    }
    const tasks = new Set(payload.split(','));
    for (const task of tasks) this.#recentCancellations.add(task);
    for (const { step, cancel } of this.#inFlight.values()) {
      if (tasks.has(step.taskUuid) && !cancel.signal.aborted) cancel.abort(cancelledReason(step.taskUuid));
    }
  }

  async #abortCancelledInFlight(): Promise<void> {
    const tasks = [...new Set([...this.#inFlight.values()].map((f) => f.step.taskUuid))];
    if (tasks.length === 0) return;
    try {
      const rows = await queryRows<{ task_uuid: string }>(
        this.#db,
        {
          text: `SELECT task_uuid FROM tasker.tasks WHERE task_uuid = ANY($1::uuid[]) AND state = 'cancelled'`,
        },
        [tasks],
      );
      if (rows.length > 0) this.#abortCancelled(rows.map((r) => r.task_uuid).join(','));
    } catch (e) {
      this.#logger.warn({ err: e }, 'could not check for tasks cancelled while the listener was away');
    }
  }

  #wakeClaimers(): void {
    // Only when a claim was held back: otherwise notifications and polls already cover new work, and an
    // unconditional wake would cost an empty claim round trip per completion.
    if (!this.#claiming || !this.#starved) return;
    this.#starved = false;
    for (const { pump } of this.#pumps.values()) pump.wake();
  }

  /**
   * The heartbeat: keeps the messages of running steps invisible, and hands back claimed steps that have waited
   * for a handler slot for half the visibility timeout (their leases are never extended, so another worker can
   * take them before they would expire here).
   */
  async #heartbeatTick(): Promise<void> {
    const running: ClaimedStep[] = [];
    const stale: ClaimedStep[] = [];
    const cutoff = Date.now() - (this.#config.common.queues.visibility_timeout_seconds * 1000) / 2;
    for (const { step, started, claimedAt } of this.#inFlight.values()) {
      if (started) running.push(step);
      else if (claimedAt < cutoff) stale.push(step);
    }
    if (stale.length > 0) {
      this.#prefetchSuspended = true;
      this.stats.releasedNotStarted += stale.length;
      await this.#release(stale, ReleaseReason.NotStartedInTime);
      this.#wakeClaimers();
    }
    const vt = this.#config.common.queues.visibility_timeout_seconds;
    await extendLeases(this.#db, running, vt, this.#logger);
  }

  /**
   * Hands these claimed steps back without an outcome and forgets them; each one still ours goes back to the
   * queue with its attempt given back and its message visible at once.
   */
  async #release(steps: readonly ClaimedStep[], reason: ReleaseReason): Promise<void> {
    if (steps.length === 0) return;
    // Forgotten first (synchronously): the dispatch loop skips a step that is no longer in flight.
    for (const step of steps) this.#inFlight.delete(inFlightKey(step));
    this.stats.inFlight = this.#inFlight.size;
    await releaseSteps(this.#pool, steps, { workerId: this.id, reason, logger: this.#logger });
  }
}

/** Whether every promise in `runs` settles within `ms` (a snapshot: runs added later are not waited for). */
async function settlesWithin(runs: Iterable<Promise<unknown>>, ms: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([Promise.allSettled([...runs]).then(() => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function cancelledReason(taskUuid: string): Error {
  return new Error(`task ${taskUuid} was cancelled`);
}

/** Creates a worker (call `start()` to run it). */
export function createWorker(options: WorkerOptions): Worker {
  return new Worker(options);
}
