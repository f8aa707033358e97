/**
 * The worker's registry of claimed, unfinished steps: what the claim loop added, the step executor runs, the
 * completion writer forgets, the heartbeat keeps leased, and shutdown hands back. Cancellation notifications
 * land here too, since aborting a step means finding its entry.
 */
import type { Logger } from 'pino';
import type { Queryable } from '../db/pool.js';
import { queryRows } from '../db/query.js';
import { Aborter } from './aborter.js';
import type { ClaimedStep } from './claimed-step.js';
import { RecentCancellations, releaseSteps, type ReleaseReason } from './leases.js';
import type { WorkerStats } from './worker-stats.js';

/** One claimed step this worker has not finished with. */
export interface InFlight {
  step: ClaimedStep;
  /** Aborted when the step's task is cancelled. */
  cancel: Aborter;
  /** Its handler has started (a step that never started can be handed back on shutdown). */
  started: boolean;
  /** When it was claimed (ms since the epoch): an unstarted step is handed back before its lease runs out. */
  claimedAt: number;
}

/** In-flight steps are keyed by step and attempt: a stalled attempt and its replacement can both be here. */
export function inFlightKey(step: Pick<ClaimedStep, 'stepUuid' | 'attempt'>): string {
  return `${step.stepUuid}:${step.attempt}`;
}

/** The abort reason of a cancelled task's steps (what their handlers see on `ctx.signal`). */
export function cancelledReason(taskUuid: string): Error {
  return new Error(`task ${taskUuid} was cancelled`);
}

/** Claimed, unfinished steps by {@link inFlightKey}, and the cancellations that concern them. */
export class InFlightSteps {
  readonly #entries = new Map<string, InFlight>();
  readonly #recentCancellations = new RecentCancellations();
  readonly #stats: Pick<WorkerStats, 'inFlight'>;
  /** Pool for hand-backs (not behind the breaker: a hand-back that fails is only logged). */
  readonly #releaseDb: Queryable;
  /** Breaker-guarded connection for asking which tasks were cancelled. */
  readonly #db: Queryable;
  readonly #workerId: string;
  readonly #logger: Logger;

  constructor(options: {
    stats: Pick<WorkerStats, 'inFlight'>;
    releaseDb: Queryable;
    db: Queryable;
    workerId: string;
    logger: Logger;
  }) {
    this.#stats = options.stats;
    this.#releaseDb = options.releaseDb;
    this.#db = options.db;
    this.#workerId = options.workerId;
    this.#logger = options.logger;
  }

  get size(): number {
    return this.#entries.size;
  }

  values(): IterableIterator<InFlight> {
    return this.#entries.values();
  }

  get(step: Pick<ClaimedStep, 'stepUuid' | 'attempt'>): InFlight | undefined {
    return this.#entries.get(inFlightKey(step));
  }

  has(step: ClaimedStep): boolean {
    return this.#entries.has(inFlightKey(step));
  }

  /** Whether this step (any attempt) is in flight here. */
  hasStep(stepUuid: string): boolean {
    for (const { step } of this.#entries.values()) if (step.stepUuid === stepUuid) return true;
    return false;
  }

  /**
   * Steps started here by chaining (ADR 0011) whose outcome is not written yet, except those in `exclude`
   * (step uuids): a completion that releases one claims it for this worker instead of enqueuing it.
   */
  chainedSteps(exclude: ReadonlySet<string>): string[] {
    const uuids: string[] = [];
    for (const { step } of this.#entries.values()) {
      if (step.chained && !exclude.has(step.stepUuid)) uuids.push(step.stepUuid);
    }
    return uuids;
  }

  /** Whether a step of this task is in flight here. */
  hasTask(taskUuid: string): boolean {
    for (const { step } of this.#entries.values()) if (step.taskUuid === taskUuid) return true;
    return false;
  }

  /** Records a step just claimed (callers update the `inFlight` counter with {@link syncStats}). */
  track(step: ClaimedStep): void {
    const entry = { step, cancel: new Aborter(), started: false, claimedAt: Date.now() };
    // The cancellation may have been heard while this claim was on its way back.
    if (this.#recentCancellations.has(step.taskUuid)) entry.cancel.abort(cancelledReason(step.taskUuid));
    this.#entries.set(inFlightKey(step), entry);
  }

  /** Forgets one step without updating the counter (a batch is counted once, by {@link syncStats}). */
  delete(step: ClaimedStep): void {
    this.#entries.delete(inFlightKey(step));
  }

  /** Brings the worker's `inFlight` counter up to date (once per batch of changes). */
  syncStats(): void {
    this.#stats.inFlight = this.#entries.size;
  }

  /**
   * Hands these claimed steps back without an outcome and forgets them; each one still ours goes back to the
   * queue with its attempt given back and its message visible at once.
   */
  async handBack(steps: readonly ClaimedStep[], reason: ReleaseReason): Promise<void> {
    if (steps.length === 0) return;
    // Forgotten first (synchronously): the dispatch loop skips a step that is no longer in flight.
    for (const step of steps) this.delete(step);
    this.syncStats();
    await releaseSteps(this.#releaseDb, steps, { workerId: this.#workerId, reason, logger: this.#logger });
  }

  /**
   * A `tasker_cancellations` notification: abort the handlers running the cancelled tasks' steps here, and
   * mark their claimed steps so they are never started. No payload means the listener reconnected.
   */
  onCancellation(payload: string | undefined): void {
    if (!payload) {
      // The listener reconnected: cancellations sent meanwhile were missed, so ask the database once.
      void this.#abortCancelledInFlight();
      return;
    }
    const tasks = new Set(payload.split(','));
    for (const task of tasks) this.#recentCancellations.add(task);
    for (const { step, cancel } of this.#entries.values()) {
      if (tasks.has(step.taskUuid) && !cancel.aborted) cancel.abort(cancelledReason(step.taskUuid));
    }
  }

  async #abortCancelledInFlight(): Promise<void> {
    const tasks = [...new Set([...this.#entries.values()].map((f) => f.step.taskUuid))];
    if (tasks.length === 0) return;
    try {
      const rows = await queryRows<{ task_uuid: string }>(
        this.#db,
        {
          text: `SELECT task_uuid FROM tasker.tasks WHERE task_uuid = ANY($1::uuid[]) AND state = 'cancelled'`,
        },
        [tasks],
      );
      if (rows.length > 0) this.onCancellation(rows.map((r) => r.task_uuid).join(','));
    } catch (e) {
      this.#logger.warn({ err: e }, 'could not check for tasks cancelled while the listener was away');
    }
  }
}
