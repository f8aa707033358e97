import type pg from 'pg';
import type { Logger } from 'pino';
import { channelFromConfig, type BoundedChannel } from '../channels/index.js';
import type { TaskerConfig } from '../config/index.js';
import type { Queryable } from '../db/pool.js';
import { instrumentPool } from '../db/pool-stats.js';
import { DatabaseBreaker } from '../resilience/breaker.js';
import { acquireSharedListener, type SharedListenerHandle } from '../messaging/listener.js';
import { CHANNELS, domainEventsQueueName, workerQueueName } from '../contract/names.js';
import { QueueClient } from '../messaging/queue.js';
import { childLogger, silentLogger } from '../observability/logger.js';
import { EventDeclarationCache } from '../events/declarations.js';
import { DomainEventSystem } from '../events/event-system.js';
import type { EventPublisherDefinition } from '../events/publisher.js';
import { WorkerMetrics } from '../observability/worker-metrics.js';
import { TaskMetrics } from '../observability/task-metrics.js';
import { registerTemplate } from '../orchestration/template-registry.js';
import { newProcessId } from '../runtime/process-id.js';
import type { TaskTemplate } from '../templates/types.js';
import type { ClaimedStep, Completion } from './claimed-step.js';
import { HandlerRegistry, type HandlerDefinition } from './handler.js';
import { HandlerThreadPool, type ThreadPoolStats } from './thread-pool.js';
import { extendLeases, ReleaseReason } from './leases.js';
import { InFlightSteps } from './in-flight.js';
import { localChains } from './local-chain.js';
import { registerLocalClaimer } from '../runtime/local-claimers.js';
import { ClaimLoop } from './claim-loop.js';
import type { ClaimRow } from './claimed-step.js';
import { settlesWithin, StepExecutor } from './step-executor.js';
import { CompletionWriter } from './completion-writer.js';
import { claimPool, completionPool } from './worker-pools.js';
import { emptyWorkerStats, type StepFinishedEvent, type WorkerStats } from './worker-stats.js';

export type { StepFinishedEvent, WorkerStats } from './worker-stats.js';

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

/**
 * A worker process: claims steps of its namespaces, runs their handlers with bounded concurrency and timeouts,
 * and writes outcomes back in batches. Claiming is push-driven (LISTEN/NOTIFY) with polling as the fallback; a
 * running step's message stays invisible through heartbeats, so a worker that dies has its steps claimed again
 * once their visibility timeout expires.
 *
 * This class is the facade: it builds the pools, breaker and channels, and starts and stops the three stages
 * along the step's path: {@link ClaimLoop} (claim), {@link StepExecutor} (run) and {@link CompletionWriter}
 * (write back), which share the registry of in-flight steps ({@link InFlightSteps}).
 */
export class Worker {
  readonly id: string;
  /** Step duration and attempts by handler; registered on whichever server serves this process's `/metrics`. */
  readonly metrics = new WorkerMetrics();
  /** Tasks finalized by this worker's completions (fast path only; the orchestrator counts the default path). */
  readonly taskMetrics: TaskMetrics;
  readonly stats: WorkerStats = emptyWorkerStats();
  /** The process's domain-event system: subscribe here to the fast events of this process's steps. */
  readonly events: DomainEventSystem;
  readonly #config: TaskerConfig;
  readonly #logger: Logger;
  readonly #registry: HandlerRegistry;
  /** Runs thread handlers; exists only when one is registered. */
  readonly #threadPool: HandlerThreadPool | undefined;
  readonly #templates: readonly TaskTemplate[];
  readonly #namespaces: readonly string[];
  readonly #pool: pg.Pool;
  readonly #completionPool: pg.Pool;
  /** The breaker in front of the database; claims, completions and heartbeats go through it. */
  readonly breaker: DatabaseBreaker;
  readonly #db: Queryable;
  readonly #ownsPool: boolean;
  readonly #dispatch: BoundedChannel<ClaimedStep>;
  readonly #completions: BoundedChannel<Completion>;
  readonly #inFlight: InFlightSteps;
  readonly #claims: ClaimLoop;
  readonly #executor: StepExecutor;
  readonly #writer: CompletionWriter;
  #listener: SharedListenerHandle | undefined;
  #unregisterClaimer: (() => void) | undefined;
  #heartbeat: ReturnType<typeof setInterval> | undefined;
  #started = false;
  #unsubscribeCancellations: (() => void) | undefined;

  constructor(options: WorkerOptions) {
    this.#config = options.config;
    this.id = options.workerId ?? newProcessId('worker');
    this.#logger = childLogger(options.logger ?? silentLogger(), { component: 'worker', worker: this.id });
    this.#registry = new HandlerRegistry(options.handlers);
    this.#threadPool = this.#registry.hasThreadHandlers
      ? new HandlerThreadPool(options.config.worker.thread_pool, this.#logger)
      : undefined;
    this.#templates = options.templates ?? [];
    this.#namespaces = [...new Set(options.namespaces ?? this.#templates.map((t) => t.namespace))];
    this.#ownsPool = !options.pool;
    this.#pool = options.pool ?? claimPool(options.config, this.#namespaces.length);
    this.#completionPool = completionPool(options.config);
    for (const [pool, name] of [
      [this.#pool, 'worker'],
      [this.#completionPool, 'worker-completions'],
    ] as const) {
      const slowAcquireWarnMs = options.config.common.database.pool.slow_acquire_warn_ms;
      instrumentPool(pool, { slowAcquireWarnMs, logger: this.#logger, name });
    }
    this.breaker = new DatabaseBreaker(
      `${this.id}:database`,
      options.config.common.circuit_breakers.database,
      this.#logger,
    );
    this.#db = this.breaker.guard(this.#pool);
    this.#dispatch = channelFromConfig('worker.dispatch', options.config.worker.channels.dispatch);
    this.#completions = channelFromConfig('worker.completion', options.config.worker.channels.completion);
    this.taskMetrics = options.taskMetrics ?? new TaskMetrics();
    this.events = options.events ?? DomainEventSystem.shared();
    this.events.configure(options.config.common.channels.domain_events, this.#logger);
    const shared = { config: options.config, workerId: this.id, logger: this.#logger, stats: this.stats };
    this.#inFlight = new InFlightSteps({ ...shared, releaseDb: this.#pool, db: this.#db });
    this.#claims = new ClaimLoop({
      ...shared,
      db: this.#db,
      inFlight: this.#inFlight,
      dispatch: this.#dispatch,
    });
    const chains = localChains(options.config, this.#templates, this.#registry);
    this.#executor = new StepExecutor({
      ...shared,
      registry: this.#registry,
      threadPool: this.#threadPool,
      db: this.#db,
      inFlight: this.#inFlight,
      metrics: this.metrics,
      claims: this.#claims,
      dispatch: this.#dispatch,
      completions: this.#completions,
      chains,
    });
    this.#writer = new CompletionWriter({
      ...shared,
      db: this.breaker.guard(this.#completionPool),
      inFlight: this.#inFlight,
      metrics: this.metrics,
      taskMetrics: this.taskMetrics,
      events: this.events,
      eventDeclarations: new EventDeclarationCache(this.#db, this.#templates),
      eventPublishers: new Map([...(options.eventPublishers ?? [])].map((p) => [p.name, p])),
      onStepFinished: options.onStepFinished,
      completions: this.#completions,
      onCapacityFreed: () => this.#claims.wake(),
      claims: this.#claims,
      chains,
    });
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
    const writes = this.#writer.degradedReason;
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
      ...this.#claims.wakeupChannels,
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
    await this.#prepareDatabase();
    this.#executor.start();
    this.#writer.start();

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
        CHANNELS.Cancellations,
        (_c, payload) => this.#inFlight.onCancellation(payload),
      );
    }
    await this.#claims.start(this.#namespaces, this.#listener?.listener);
    // Tasks created in this process start their root steps here without a claim round trip (ADR 0009), on
    // the one-transaction path only: the four-transaction path keeps every claim in claim_steps.
    if (this.#config.worker.resolve_in_completion) {
      this.#unregisterClaimer = registerLocalClaimer(this.#config.common.database.url, {
        workerId: this.id,
        queues: this.#claims.queues,
        leaseSeconds: this.#config.common.queues.visibility_timeout_seconds,
        reserve: (max) => this.#claims.reserve(max),
        adopt: (rows, reserved) => this.#claims.adopt(rows as unknown as ClaimRow[], reserved),
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
    this.#unregisterClaimer?.();
    this.#unregisterClaimer = undefined;
    await this.#claims.stop();
    // Claimed steps that never got a handler slot are handed back at once (their messages become visible for
    // other workers) instead of starting now.
    await this.#executor.stopDispatching();
    const notStarted = [...this.#inFlight.values()].filter((f) => !f.started).map((f) => f.step);
    if (notStarted.length > 0) {
      this.stats.releasedOnShutdown += notStarted.length;
      await this.#inFlight.handBack(notStarted, ReleaseReason.Shutdown);
    }

    const w = this.#config.worker;
    if (!(await this.#executor.runsSettleWithin(w.shutdown_timeout_ms))) {
      this.#logger.warn(
        { running: this.#executor.running },
        'shutdown grace period over: aborting running handlers',
      );
      this.#executor.abortRunning(new Error('worker shutting down'));
      // Each run gives up on its handler after abandon_timeout_ms; the margin covers queuing its outcome.
      await this.#executor.runsSettleWithin(w.abandon_timeout_ms + 1000);
    }
    // Every handler has returned or was abandoned, so the thread pool has nothing left to run (steps deferred
    // for back-pressure were handed back above with the ones that never started).
    this.#executor.clearDeferrals();
    await this.#threadPool?.close();
    await this.#writer.stop();
    // Outcomes are written within their own time limit; a write still failing then is given up (the step
    // comes back after its visibility timeout), so a database outage cannot hold the exit.
    await settlesWithin(this.#writer.pendingWrites, w.completion_timeout_ms + 1000);
    // Fast events of the last results reach their subscribers before the process goes (bounded wait).
    if (!(await this.events.drain(this.#config.common.domain_events.shutdown_drain_timeout_ms))) {
      this.#logger.warn('shutdown: fast domain events still undelivered after the drain timeout');
    }
    if (this.#heartbeat) clearInterval(this.#heartbeat);
    this.#unsubscribeCancellations?.();
    // What is left was aborted by this shutdown (or abandoned): handed back without its attempt counted.
    const unfinished = [...this.#inFlight.values()].map((f) => f.step);
    this.stats.abortedOnShutdown += unfinished.length;
    await this.#inFlight.handBack(unfinished, ReleaseReason.AbortedByShutdown);
    await this.#listener?.release();
    await this.#closePools();
    this.#logger.info('worker stopped');
  }

  async #closePools(): Promise<void> {
    this.breaker.shutdown();
    await this.#completionPool.end().catch(() => {});
    if (this.#ownsPool) await this.#pool.end().catch(() => {});
  }

  /** Registers the templates, creates the namespaces' queues and warns about steps no handler here serves. */
  async #prepareDatabase(): Promise<void> {
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

  /**
   * The heartbeat: keeps the messages of running steps invisible, and hands back claimed steps that have waited
   * for a handler slot for half the visibility timeout (their leases are never extended, so another worker can
   * take them before they would expire here).
   */
  async #heartbeatTick(): Promise<void> {
    const running: ClaimedStep[] = [];
    const stale: ClaimedStep[] = [];
    const vt = this.#config.common.queues.visibility_timeout_seconds;
    const cutoff = Date.now() - (vt * 1000) / 2;
    for (const { step, started, claimedAt } of this.#inFlight.values()) {
      if (started) running.push(step);
      else if (claimedAt < cutoff) stale.push(step);
    }
    if (stale.length > 0) {
      this.#claims.suspendPrefetch();
      this.stats.releasedNotStarted += stale.length;
      await this.#inFlight.handBack(stale, ReleaseReason.NotStartedInTime);
      this.#claims.wake();
    }
    await extendLeases(this.#db, running, vt, this.#logger);
  }
}

/** Creates a worker (call `start()` to run it). */
export function createWorker(options: WorkerOptions): Worker {
  return new Worker(options);
}
