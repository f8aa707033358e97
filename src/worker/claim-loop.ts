/**
 * The first stage of the step's path: one claim pump per namespace queue, woken by notifications and polls,
 * claiming no more steps than the worker has room for (handler slots plus one batch of prefetch) and handing
 * each claimed step to the dispatch channel.
 */
import type { Logger } from 'pino';
import { ChannelClosedError, type BoundedChannel } from '../channels/index.js';
import type { TaskerConfig } from '../config/index.js';
import type { Queryable } from '../db/pool.js';
import { queryRows } from '../db/query.js';
import type { NotificationListener } from '../messaging/listener.js';
import { workerQueueName } from '../contract/names.js';
import { Pump } from '../runtime/pump.js';
import { WakeupSource } from '../runtime/wakeups.js';
import { claimedStepFromRow, type ClaimRow, type ClaimedStep } from './claimed-step.js';
import type { InFlightSteps } from './in-flight.js';
import { ReleaseReason } from './leases.js';
import type { WorkerStats } from './worker-stats.js';

export interface ClaimLoopOptions {
  config: TaskerConfig;
  /** Breaker-guarded connection the claims go through. */
  db: Queryable;
  workerId: string;
  logger: Logger;
  inFlight: InFlightSteps;
  stats: WorkerStats;
  /** Where claimed steps go (the step executor reads it). */
  dispatch: BoundedChannel<ClaimedStep>;
}

/** Claims steps of the worker's namespaces within its free capacity. */
export class ClaimLoop {
  readonly #config: TaskerConfig;
  readonly #db: Queryable;
  readonly #workerId: string;
  readonly #logger: Logger;
  readonly #inFlight: InFlightSteps;
  readonly #stats: WorkerStats;
  readonly #dispatch: BoundedChannel<ClaimedStep>;
  readonly #pumps = new Map<string, { pump: Pump; wakeups: WakeupSource }>();
  /** Capacity promised to claim queries still running (one claim loop per namespace). */
  #reservedCapacity = 0;
  #claiming = false;
  /** A claim was held back (or cut short) for lack of capacity: freeing capacity must trigger a claim. */
  #starved = false;
  /**
   * Set when claimed steps had to be handed back because no handler slot freed up in time: claiming ahead of
   * free slots would only take them again. Cleared as soon as a handler finishes.
   */
  #prefetchSuspended = false;

  constructor(options: ClaimLoopOptions) {
    this.#config = options.config;
    this.#db = options.db;
    this.#workerId = options.workerId;
    this.#logger = options.logger;
    this.#inFlight = options.inFlight;
    this.#stats = options.stats;
    this.#dispatch = options.dispatch;
  }

  /** Whether claiming is on (between {@link start} and {@link stop}). */
  get claiming(): boolean {
    return this.#claiming;
  }

  /** The wake-up channels of the claim pumps (for monitoring). */
  get wakeupChannels(): BoundedChannel<unknown>[] {
    return [...this.#pumps.values()].map(({ wakeups }) => wakeups.channel as BoundedChannel<unknown>);
  }

  /** Starts one claim pump per namespace, woken by `listener` when notifications are on and by polls. */
  async start(namespaces: readonly string[], listener: NotificationListener | undefined): Promise<void> {
    this.#claiming = true;
    for (const ns of namespaces) {
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
        ...(listener ? { listener } : {}),
        queues: [queue],
        pollIntervalMs: this.#config.worker.poll_interval_ms,
      });
    }
  }

  /** Stops claiming; a claim already on its way finishes and dispatches what it got. */
  async stop(): Promise<void> {
    this.#claiming = false;
    for (const { pump, wakeups } of this.#pumps.values()) {
      await wakeups.stop();
      await pump.stop();
    }
  }

  /** Capacity was freed: claim again if a claim was held back for lack of it. */
  wake(): void {
    // Only when a claim was held back: otherwise notifications and polls already cover new work, and an
    // unconditional wake would cost an empty claim round trip per completion.
    if (!this.#claiming || !this.#starved) return;
    this.#starved = false;
    for (const { pump } of this.#pumps.values()) pump.wake();
  }

  /** Claimed steps could not start in time: claim no further than the free handler slots until one frees up. */
  suspendPrefetch(): void {
    this.#prefetchSuspended = true;
  }

  /** A handler finished: prefetch is allowed again (and a claim held back for it is made now). */
  resumePrefetch(): void {
    if (!this.#prefetchSuspended) return;
    this.#prefetchSuspended = false;
    this.wake();
  }

  /** The queues this worker claims from (one per namespace it serves). */
  get queues(): string[] {
    return [...this.#pumps.keys()];
  }

  /**
   * Reserves capacity for up to `max` steps claimed for this worker by someone else's statement: a completion
   * write claiming the dependents its results released, or a task creation claiming root steps. `finishing`
   * steps (of that completion write) are still counted in flight and free their slots with it. Returns the
   * number reserved (0 when full or not claiming); give it back with {@link adopt}.
   */
  reserve(max: number, finishing = 0): number {
    if (!this.#claiming) return 0;
    const limit = Math.max(0, Math.min(max, this.#freeCapacity() + finishing));
    this.#reservedCapacity += limit;
    return limit;
  }

  /**
   * Takes the steps claimed under a {@link reserve}ation (their rows, possibly none) in place of the capacity,
   * and dispatches them like claimed steps. Call it exactly once per reservation, also on failure.
   */
  async adopt(rows: readonly ClaimRow[], reserved: number): Promise<void> {
    const claimed: ClaimedStep[] = [];
    try {
      for (const row of rows) {
        const queue = workerQueueName(row.namespace);
        if (this.#takenOverByChained(queue, row)) continue;
        const step = claimedStepFromRow(queue, { ...row, msg_id: String(row.msg_id) });
        this.#inFlight.track(step);
        claimed.push(step);
      }
    } finally {
      this.#reservedCapacity -= reserved;
    }
    if (claimed.length === 0) return;
    this.#stats.claimed += claimed.length;
    this.#stats.selfClaimed += claimed.length;
    this.#inFlight.syncStats();
    for (let i = 0; i < claimed.length; i++) {
      try {
        if (!this.#claiming) throw new ChannelClosedError(this.#dispatch.name);
        await this.#dispatch.send(claimed[i]!);
      } catch (e) {
        if (!(e instanceof ChannelClosedError)) throw e;
        // The worker is stopping: what it cannot start goes back at once, its attempt not counted.
        const rest = claimed.slice(i);
        this.#stats.releasedOnShutdown += rest.length;
        await this.#inFlight.handBack(rest, ReleaseReason.Shutdown);
        return;
      }
    }
  }

  /**
   * A claimed step already running here by chaining (ADR 0011) takes the claim over: it becomes an ordinary
   * claimed step, whose outcome is written with this message, and does not start again.
   */
  #takenOverByChained(queue: string, row: ClaimRow): boolean {
    const running = this.#inFlight.get({ stepUuid: row.step_uuid, attempt: row.attempt });
    if (!running?.step.chained) return false;
    running.step.msgId = String(row.msg_id);
    running.step.queue = queue;
    running.step.chained = false;
    return true;
  }

  /** Room for more steps now (0 when not claiming): what chaining may start (ADR 0011). */
  get freeCapacity(): number {
    return this.#claiming ? Math.max(0, this.#freeCapacity()) : 0;
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
        [queue, limit, this.#config.common.queues.visibility_timeout_seconds, this.#workerId],
      );
      // Counted in flight before the reservation is given back (no await in between).
      for (const row of rows) {
        if (this.#takenOverByChained(queue, row)) continue;
        const step = claimedStepFromRow(queue, row);
        this.#inFlight.track(step);
        claimed.push(step);
      }
    } finally {
      this.#reservedCapacity -= limit;
    }
    this.#stats.claimed += claimed.length;
    this.#inFlight.syncStats();
    for (const step of claimed) await this.#dispatch.send(step);
    if (rows.length === limit && limit < batchSize) this.#starved = true;
    return rows.length === limit;
  }
}
