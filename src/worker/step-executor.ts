/**
 * The middle stage of the step's path: takes claimed steps from the dispatch channel as handler slots free up,
 * runs each handler (see {@link runStep}) and queues its outcome for the completion writer. It also owns what
 * can happen to a step between claim and outcome here: its task cancelled before it started, a full thread pool
 * (the step waits and is dispatched again), and a handler that ignores its abort signal (abandoned).
 */
import type { Logger } from 'pino';
import { Semaphore, type BoundedChannel } from '../channels/index.js';
import type { TaskerConfig } from '../config/index.js';
import type { Queryable } from '../db/pool.js';
import { queryRows } from '../db/query.js';
import { currentTracing } from '../observability/tracing.js';
import type { WorkerMetrics } from '../observability/worker-metrics.js';
import { Aborter } from './aborter.js';
import type { ClaimLoop } from './claim-loop.js';
import type { ClaimedStep, Completion } from './claimed-step.js';
import type { CheckpointData } from './dynamic.js';
import { errorLimitsOf } from './error-record.js';
import type { HandlerRegistry } from './handler.js';
import type { InFlightSteps } from './in-flight.js';
import { ReleaseReason } from './leases.js';
import { flushHeldFailures, type LocalChains } from './local-chain.js';
import { runStep } from './step-runner.js';
import type { HandlerThreadPool } from './thread-pool.js';
import type { WorkerStats } from './worker-stats.js';

export interface StepExecutorOptions {
  config: TaskerConfig;
  registry: HandlerRegistry;
  /** Runs thread handlers; exists only when one is registered. */
  threadPool: HandlerThreadPool | undefined;
  /** Breaker-guarded connection for checkpoints. */
  db: Queryable;
  workerId: string;
  logger: Logger;
  inFlight: InFlightSteps;
  stats: WorkerStats;
  metrics: WorkerMetrics;
  claims: ClaimLoop;
  dispatch: BoundedChannel<ClaimedStep>;
  completions: BoundedChannel<Completion>;
  /** Dependents to start right after a success here (`worker.chain_local_steps`), when on. */
  chains: LocalChains | undefined;
}

/** Whether every promise in `runs` settles within `ms` (a snapshot: runs added later are not waited for). */
export async function settlesWithin(runs: Iterable<Promise<unknown>>, ms: number): Promise<boolean> {
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

/** Runs the handlers of dispatched steps within `worker.max_concurrent_handlers` slots. */
export class StepExecutor {
  readonly #o: StepExecutorOptions;
  readonly #handlerSlots: Semaphore;
  readonly #shutdown = new Aborter();
  readonly #handlerRuns = new Set<Promise<unknown>>();
  /** Timers of steps waiting to be dispatched again after HANDLER_BACKPRESSURE. */
  readonly #deferrals = new Set<ReturnType<typeof setTimeout>>();
  #loop: Promise<void> | undefined;

  constructor(options: StepExecutorOptions) {
    this.#o = options;
    const w = options.config.worker;
    this.#handlerSlots = new Semaphore(w.max_concurrent_handlers);
  }

  /** Handlers running now (including ones past their timeout that have not returned yet). */
  get running(): number {
    return this.#handlerRuns.size;
  }

  /** Starts the dispatch loop (it ends when {@link StepExecutor.stopDispatching} closes the channel). */
  start(): void {
    this.#loop = this.#runDispatchLoop();
  }

  /**
   * Stops starting handlers: steps still waiting in the dispatch channel are dropped (they stay in flight, not
   * started, for the caller to hand back) and the dispatch loop is let go even if it waits for a slot.
   */
  async stopDispatching(): Promise<void> {
    this.#o.dispatch.drain(Number.MAX_SAFE_INTEGER);
    this.#o.dispatch.close();
    this.#handlerSlots.close();
    await this.#loop;
  }

  /** Whether every running handler finishes within `ms`. */
  runsSettleWithin(ms: number): Promise<boolean> {
    return settlesWithin(this.#handlerRuns, ms);
  }

  /** Aborts every running handler's signal (the worker's shutdown grace period is over). */
  abortRunning(reason: Error): void {
    this.#shutdown.abort(reason);
  }

  /** Forgets the steps waiting out back-pressure (they are handed back with the ones that never started). */
  clearDeferrals(): void {
    for (const timer of this.#deferrals) clearTimeout(timer);
    this.#deferrals.clear();
  }

  async #runDispatchLoop(): Promise<void> {
    const { inFlight, stats, claims } = this.#o;
    for await (const step of this.#o.dispatch) {
      let release: () => void;
      try {
        release = await this.#handlerSlots.acquire();
      } catch {
        return; // semaphore closed: shutting down
      }
      const entry = inFlight.get(step);
      if (!entry) {
        release(); // handed back while it waited for a slot
        continue;
      }
      if (entry.cancel.aborted) {
        // Its task was cancelled before the handler started: no handler call, and the attempt is given back.
        release();
        stats.cancelledBeforeStart += 1;
        void inFlight.handBack([step], ReleaseReason.TaskCancelled).then(() => claims.wake());
        continue;
      }
      const run = this.#execute(step).finally(() => {
        release();
        claims.resumePrefetch();
      });
      this.#handlerRuns.add(run);
      void run.finally(() => this.#handlerRuns.delete(run));
    }
  }

  async #execute(step: ClaimedStep): Promise<void> {
    const { inFlight, stats, config, workerId } = this.#o;
    const entry = inFlight.get(step);
    if (entry) entry.started = true;
    stats.handlersRunning += 1;
    stats.maxHandlersRunning = Math.max(stats.maxHandlersRunning, stats.handlersRunning);
    try {
      // A `step.execute` span around the handler run when tracing is on (parented on the message's trace
      // context); otherwise the call goes straight through.
      const { record, settled, backpressure, handlerStopped } = await currentTracing().traceStepExecute(
        step,
        workerId,
        () =>
          runStep(step, this.#o.registry, {
            workerId,
            defaultTimeoutMs: config.worker.handler_timeout_ms,
            logger: this.#o.logger,
            shutdown: this.#shutdown,
            cancel: inFlight.get(step)?.cancel,
            threadPool: this.#o.threadPool,
            saveCheckpoint: (s, data) => this.#saveCheckpoint(s, data),
            errorLimits: errorLimitsOf(config.worker),
            maxResultDepth: config.worker.max_result_depth,
          }),
      );
      if (backpressure) {
        this.#deferStep(step);
        return;
      }
      // Aborted by this worker's own shutdown: not the handler's failure. No outcome is written; stop() hands
      // the step back without its attempt counted.
      const abortedByShutdown = !record.success && this.#shutdown.aborted;
      if (abortedByShutdown) {
        // nothing to write
      } else if (step.chained && !record.success && this.#o.chains) {
        // A chained failure waits for its step's claim (ADR 0011).
        this.#o.chains.hold({ step, record });
        flushHeldFailures(this.#o);
      } else {
        // The outcome is queued for writing now; the slot is held until the handler has really stopped.
        await this.#o.completions.send({ step, record });
        if (record.success) this.#startChained(step, record);
      }
      if (!handlerStopped) await this.#awaitHandlerStop(step, settled);
    } finally {
      stats.handlersRunning -= 1;
    }
  }

  /**
   * Starts the dependents of a step that just succeeded whose parents all succeeded here (ADR 0011), within the
   * worker's free capacity: they are in flight at once, and their outcomes can join their parent's write.
   */
  #startChained(step: ClaimedStep, record: Completion['record']): void {
    const { chains, inFlight, stats } = this.#o;
    if (!chains || this.#shutdown.aborted) return;
    const next = chains.next(step, record, this.#o.claims.freeCapacity);
    if (next.length === 0) return;
    for (const s of next) inFlight.track(s);
    stats.chained += next.length;
    inFlight.syncStats();
    for (const s of next) {
      // Only a closed channel fails a send (shutting down): the chained step simply never starts.
      this.#o.dispatch.send(s).catch(() => void inFlight.handBack([s], ReleaseReason.Shutdown));
    }
  }

  /**
   * Holds the handler slot until the handler has really stopped, but no longer than `worker.abandon_timeout_ms`
   * after it was told to stop: a handler that ignores its signal is abandoned (counted, reported in `/health`,
   * its slot freed) instead of wedging the worker.
   */
  async #awaitHandlerStop(step: ClaimedStep, settled: Promise<unknown>): Promise<void> {
    const { stats, config } = this.#o;
    if (await settlesWithin([settled], config.worker.abandon_timeout_ms)) return;
    stats.abandonedHandlers += 1;
    stats.abandonedHandlersTotal += 1;
    this.#o.metrics.handlerAbandoned(step.handler);
    this.#o.logger.error(
      {
        step: step.stepUuid,
        handler: step.handler,
        abandonTimeoutMs: config.worker.abandon_timeout_ms,
      },
      'handler ignored its abort signal: abandoned (its slot is freed; it keeps running until it returns)',
    );
    void settled.finally(() => {
      stats.abandonedHandlers -= 1;
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
    const { inFlight, claims } = this.#o;
    this.#o.stats.deferredOnBackpressure += 1;
    const entry = inFlight.get(step);
    if (entry) entry.started = false;
    const timer = setTimeout(() => {
      this.#deferrals.delete(timer);
      if (!claims.claiming || !inFlight.has(step)) return;
      this.#o.dispatch.send(step).catch((err: unknown) => {
        // Only a closed channel fails a send here (shutting down): stop() hands the step back.
        this.#o.logger.debug({ err, step: step.stepUuid }, 'deferred step not dispatched again');
      });
    }, this.#o.config.worker.thread_pool.backpressure_retry_ms);
    this.#deferrals.add(timer);
  }

  /** Persists a batch worker's progress for its current attempt (refused once the attempt lost the step). */
  async #saveCheckpoint(step: ClaimedStep, data: CheckpointData): Promise<boolean> {
    const rows = await queryRows<{ saved: boolean }>(
      this.#o.db,
      { name: 'tasker_checkpoint_step', text: 'SELECT tasker.checkpoint_step($1, $2, $3) AS saved' },
      [step.stepUuid, step.attempt, JSON.stringify(data)],
    );
    return rows[0]?.saved === true;
  }
}
