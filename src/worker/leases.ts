/**
 * The worker's hold on claimed steps: extending the visibility of the messages of steps whose handlers run, and
 * handing back steps whose handlers did not run to an outcome. A worker never extends the lease of a step it has
 * not started, so a step it cannot start in time goes to another worker instead of waiting behind busy slots.
 */
import type { Logger } from 'pino';
import type { Queryable } from '../db/pool.js';
import { queryRows } from '../db/query.js';
import { QueueClient } from '../messaging/queue.js';
import type { ClaimedStep } from './claimed-step.js';

/** Why a claimed step goes back to the queue without an outcome (recorded in its audit row). */
export const ReleaseReason = {
  Shutdown: 'the worker shut down before the handler started',
  AbortedByShutdown: 'the worker shut down while the handler ran',
  TaskCancelled: 'the task was cancelled before the handler started',
  NotStartedInTime: 'the worker could not start the handler within half the visibility timeout',
} as const;
export type ReleaseReason = (typeof ReleaseReason)[keyof typeof ReleaseReason];

/**
 * Hands steps back in one statement (`tasker.release_steps`): each one still `in_progress` at its attempt goes
 * back to `enqueued` without its attempt counted, its message visible at once. Never throws: a failure is
 * logged, and the steps then come back by themselves when their visibility timeout lapses.
 * @returns the number of steps handed back to the queue.
 */
export async function releaseSteps(
  db: Queryable,
  steps: readonly ClaimedStep[],
  context: { workerId: string; reason: ReleaseReason; logger: Logger },
): Promise<number> {
  // a chained step not yet claimed has nothing in the database to hand back
  steps = steps.filter((s) => !s.chained);
  if (steps.length === 0) return 0;
  const payload = JSON.stringify(
    steps.map((s) => ({ step_uuid: s.stepUuid, msg_id: s.msgId, attempt: s.attempt })),
  );
  try {
    const rows = await queryRows<{ step_uuid: string }>(
      db,
      { name: 'tasker_release_steps', text: 'SELECT * FROM tasker.release_steps($1, $2, $3)' },
      [payload, context.workerId, context.reason],
    );
    return rows.length;
  } catch (e) {
    context.logger.warn(
      { err: e, steps: steps.length, reason: context.reason },
      'could not hand steps back; they return after their visibility timeout',
    );
    return 0;
  }
}

/** Extends the visibility of these steps' messages (one statement per queue); failures are logged. */
export async function extendLeases(
  db: Queryable,
  steps: Iterable<ClaimedStep>,
  visibilityTimeoutSeconds: number,
  logger: Logger,
): Promise<void> {
  const byQueue = new Map<string, string[]>();
  for (const step of steps) {
    if (step.chained) continue; // no message (yet) to keep invisible
    const ids = byQueue.get(step.queue) ?? [];
    ids.push(step.msgId);
    byQueue.set(step.queue, ids);
  }
  const queues = new QueueClient(db);
  for (const [queue, ids] of byQueue) {
    try {
      await queues.setVisibilityTimeout(queue, ids, visibilityTimeoutSeconds);
    } catch (e) {
      logger.warn({ err: e, queue }, 'could not extend step leases');
    }
  }
}

/**
 * Tasks this process heard were cancelled, remembered for a while: a claim that was answered after the
 * cancellation notification arrived must not start the task's steps either.
 */
export class RecentCancellations {
  readonly #seen = new Map<string, number>();
  readonly #ttlMs: number;
  readonly #max: number;

  constructor(ttlMs = 60_000, max = 10_000) {
    this.#ttlMs = ttlMs;
    this.#max = max;
  }

  add(taskUuid: string, now = Date.now()): void {
    this.#seen.delete(taskUuid);
    this.#seen.set(taskUuid, now);
    // Oldest first (insertion order): drop what has expired, and the oldest beyond the bound.
    for (const [task, at] of this.#seen) {
      if (now - at <= this.#ttlMs && this.#seen.size <= this.#max) break;
      this.#seen.delete(task);
    }
  }

  has(taskUuid: string, now = Date.now()): boolean {
    const at = this.#seen.get(taskUuid);
    return at !== undefined && now - at <= this.#ttlMs;
  }
}
