/**
 * A tiny, data-driven finite-state machine shared by the task and step machines. The transition tables are
 * plain arrays so they can be printed, mirrored into SQL and enumerated by tests; this module only indexes them.
 */
import { InvalidTransitionError } from '../errors.js';

/** One row of a transition table: in state `from`, event `event` moves the entity to `to`. */
export interface Transition<S extends string, E extends string> {
  readonly from: S;
  readonly event: E;
  readonly to: S;
}

/** A distinct (from, to) pair that at least one event allows. */
export interface StatePair<S extends string> {
  readonly from: S;
  readonly to: S;
}

/** The indexed form of a transition table. Internal: the public API is the per-entity functions. */
export interface Machine<S extends string, E extends string> {
  /** Target of `event` in `from`, or undefined when the table has no such row. */
  tryNext(from: S, event: E): S | undefined;
  /** Target of `event` in `from`; throws {@link InvalidTransitionError} when not allowed. */
  next(from: S, event: E): S;
  canTransition(from: S, to: S): boolean;
  pairs(): StatePair<S>[];
}

// A NUL separator cannot occur in a state or event name, so the composite key is unambiguous.
const key = (a: string, b: string): string => `${a}\u0000${b}`;

/**
 * Indexes a transition table. Throws at module load if the table is not deterministic (two rows with the
 * same from and event), because that would be a programming error in the table itself.
 */
export function buildMachine<S extends string, E extends string>(
  entity: 'task' | 'step',
  table: readonly Transition<S, E>[],
): Machine<S, E> {
  const byEvent = new Map<string, S>();
  const pairKeys = new Set<string>();
  const pairList: StatePair<S>[] = [];
  for (const row of table) {
    const k = key(row.from, row.event);
    if (byEvent.has(k)) {
      throw new Error(`${entity} transition table has two rows for (${row.from}, ${row.event})`);
    }
    byEvent.set(k, row.to);
    const pk = key(row.from, row.to);
    if (!pairKeys.has(pk)) {
      pairKeys.add(pk);
      pairList.push(Object.freeze({ from: row.from, to: row.to }));
    }
  }

  return {
    tryNext: (from, event) => byEvent.get(key(from, event)),
    next(from, event) {
      const to = byEvent.get(key(from, event));
      if (to === undefined) {
        const err = new InvalidTransitionError(entity, from, `<no target for event ${event}>`);
        // The shared error only knows (from, to); say which event was refused, which is what a reader needs.
        err.message = `${entity} in state '${from}' does not accept event '${event}'`;
        throw err;
      }
      return to;
    },
    canTransition: (from, to) => pairKeys.has(key(from, to)),
    pairs: () => pairList.slice(),
  };
}
