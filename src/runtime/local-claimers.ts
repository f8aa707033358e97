/**
 * Workers of this process that task creation can hand root steps to (ADR 0009): when a process creates a task
 * in a namespace one of its own workers serves, `create_task` claims the root steps for that worker in the
 * creating transaction, so the first handler starts without a notification or a claim round trip.
 *
 * Keyed by database URL: only a worker on the same database as the creator can take its steps.
 */

/** A claimed step's execution context as `tasker.claimed_step_contexts` returns it (one JSON object). */
export type ClaimedStepRow = Record<string, unknown>;

/** What task creation needs from a worker to claim steps for it. */
export interface LocalStepClaimer {
  /** The worker's id (recorded as the processor of the claim). */
  readonly workerId: string;
  /** The queues the worker claims from. */
  readonly queues: readonly string[];
  /** The lease of a claimed step (the worker's visibility timeout), in seconds. */
  readonly leaseSeconds: number;
  /** Reserves room for up to `max` steps; returns how many it reserved (0: the worker is full or stopping). */
  reserve(max: number): number;
  /** Takes the claimed rows in place of the reservation (exactly once per reservation, also with no rows). */
  adopt(rows: readonly ClaimedStepRow[], reserved: number): Promise<void>;
}

const claimers = new Map<string, Set<LocalStepClaimer>>();

/** Registers a worker; returns its removal. */
export function registerLocalClaimer(databaseUrl: string, claimer: LocalStepClaimer): () => void {
  let set = claimers.get(databaseUrl);
  if (!set) {
    set = new Set();
    claimers.set(databaseUrl, set);
  }
  set.add(claimer);
  return () => {
    set.delete(claimer);
    if (set.size === 0) claimers.delete(databaseUrl);
  };
}

/** A worker of this process on `databaseUrl` that claims from `queue`, if there is one. */
export function localClaimerFor(databaseUrl: string, queue: string): LocalStepClaimer | undefined {
  const set = claimers.get(databaseUrl);
  if (!set) return undefined;
  for (const c of set) if (c.queues.includes(queue)) return c;
  return undefined;
}
