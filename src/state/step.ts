/**
 * The step state machine. A step moves through these states between the orchestrator (enqueue, accept
 * results, schedule retries) and a worker (claim, report).
 *
 * As with tasks, the engine moves steps in SQL: at run time only the state names and sets here are used. The
 * transition table is the specification that SQL mirrors, checked by the parity test
 * (test/integration/state-mirror.test.ts). Change a transition here and in SQL together.
 */
import { buildMachine, type StatePair, type Transition } from './machine.js';

/** Every state a step can be in. */
export const StepState = {
  Pending: 'pending',
  Enqueued: 'enqueued',
  InProgress: 'in_progress',
  EnqueuedForOrchestration: 'enqueued_for_orchestration',
  EnqueuedAsErrorForOrchestration: 'enqueued_as_error_for_orchestration',
  WaitingForRetry: 'waiting_for_retry',
  Complete: 'complete',
  Error: 'error',
  Cancelled: 'cancelled',
  ResolvedManually: 'resolved_manually',
  /** Not run: a decision chose another branch (or a parent was skipped). */
  Skipped: 'skipped',
} as const;
/** A step state, as stored in the database. */
export type StepState = (typeof StepState)[keyof typeof StepState];

/** Every step state, in lifecycle order. */
export const STEP_STATES: readonly StepState[] = Object.freeze(Object.values(StepState));

/** Events that drive the step machine. */
export const StepEvent = {
  Enqueue: 'Enqueue',
  Start: 'Start',
  EnqueueForOrchestration: 'EnqueueForOrchestration',
  EnqueueAsErrorForOrchestration: 'EnqueueAsErrorForOrchestration',
  LeaseExpired: 'LeaseExpired',
  Release: 'Release',
  Complete: 'Complete',
  Fail: 'Fail',
  WaitForRetry: 'WaitForRetry',
  Retry: 'Retry',
  ResetForRetry: 'ResetForRetry',
  Cancel: 'Cancel',
  ResolveManually: 'ResolveManually',
  CompleteManually: 'CompleteManually',
  Skip: 'Skip',
  /** An operator re-runs the task from this step or from one above it (`tasker.rerun_from_step`). */
  Rerun: 'Rerun',
} as const;
/** A step event name. */
export type StepEvent = (typeof StepEvent)[keyof typeof StepEvent];

/** Every step event. */
export const STEP_EVENTS: readonly StepEvent[] = Object.freeze(Object.values(StepEvent));

/**
 * States the engine never moves a step out of. `error` is deliberately absent: an errored step can still be
 * reset for retry, cancelled or resolved by an operator. Only an operator's re-run from a step (`Rerun`) sends
 * a step in one of these states back to `pending`.
 */
export const TERMINAL_STEP_STATES: ReadonlySet<StepState> = new Set<StepState>([
  StepState.Complete,
  StepState.Cancelled,
  StepState.ResolvedManually,
  StepState.Skipped,
]);

/** States of a parent step that let its dependents run. */
export const SATISFIES_DEPENDENCY: ReadonlySet<StepState> = new Set<StepState>([
  StepState.Complete,
  StepState.ResolvedManually,
]);

const S = StepState;
const E = StepEvent;

function t(from: StepState, event: StepEvent, to: StepState): Transition<StepState, StepEvent> {
  return Object.freeze({ from, event, to });
}

const NON_TERMINAL: readonly StepState[] = STEP_STATES.filter((s) => !TERMINAL_STEP_STATES.has(s));
/** The states a re-run sends back to `pending`: every state in which the step is neither pending nor running. */
const RERUNNABLE: readonly StepState[] = [
  S.WaitingForRetry,
  S.Complete,
  S.Error,
  S.Cancelled,
  S.ResolvedManually,
  S.Skipped,
];

/**
 * The complete step transition table. Anything not listed is rejected. Unlike the reference, the manual events
 * are refused from terminal states (a completed step cannot be "resolved" again), and the legacy shortcuts
 * (`pending -Start->`, `in_progress -Complete->`, `Fail`/`WaitForRetry` from early states) are gone.
 * `LeaseExpired` is ours: a worker that dies mid-handler leaves the step `in_progress`; when its message's
 * visibility timeout lapses the step goes back to `enqueued` so another worker can claim it. `Release` is ours too:
 * a worker hands back a step whose handler did not run to an outcome (never started, or aborted by the worker's
 * own shutdown), and the attempt is not counted.
 */
export const STEP_TRANSITIONS: readonly Transition<StepState, StepEvent>[] = Object.freeze([
  t(S.Pending, E.Enqueue, S.Enqueued),
  t(S.Enqueued, E.Start, S.InProgress),
  t(S.InProgress, E.EnqueueForOrchestration, S.EnqueuedForOrchestration),
  t(S.InProgress, E.EnqueueAsErrorForOrchestration, S.EnqueuedAsErrorForOrchestration),
  t(S.InProgress, E.LeaseExpired, S.Enqueued),
  t(S.InProgress, E.Release, S.Enqueued),
  t(S.EnqueuedForOrchestration, E.Complete, S.Complete),
  t(S.EnqueuedForOrchestration, E.Fail, S.Error),
  t(S.EnqueuedAsErrorForOrchestration, E.WaitForRetry, S.WaitingForRetry),
  t(S.EnqueuedAsErrorForOrchestration, E.Fail, S.Error),
  t(S.WaitingForRetry, E.Retry, S.Pending),
  t(S.Error, E.ResetForRetry, S.Pending),
  // A decision did not choose this branch (or a parent was skipped): the step never runs.
  t(S.Pending, E.Skip, S.Skipped),
  // Operator and cancellation events apply to every state that is not terminal, `error` included.
  ...NON_TERMINAL.flatMap((s) => [
    t(s, E.Cancel, S.Cancelled),
    t(s, E.ResolveManually, S.ResolvedManually),
    t(s, E.CompleteManually, S.Complete),
  ]),
  // An operator re-runs the task from a step: that step and everything below it start again. Steps that are
  // running refuse it; a pending step is already where a re-run would put it.
  ...RERUNNABLE.map((s) => t(s, E.Rerun, S.Pending)),
]);

const machine = buildMachine('step', STEP_TRANSITIONS);

/** True when `value` is one of the eleven step states (use it to check strings read from outside). */
export function isStepState(value: string): value is StepState {
  return (STEP_STATES as readonly string[]).includes(value);
}

/**
 * True for `complete`, `cancelled`, `resolved_manually` and `skipped` (not `error`), which only an operator's
 * `Rerun` leaves.
 */
export function isTerminalStepState(state: StepState): boolean {
  return TERMINAL_STEP_STATES.has(state);
}

/** True when a parent in `state` lets its dependents run (`complete` or `resolved_manually`). */
export function satisfiesDependency(state: StepState): boolean {
  return SATISFIES_DEPENDENCY.has(state);
}

/**
 * The state a step in `from` moves to on `event`.
 * @throws InvalidTransitionError when the table has no row for (from, event); for a terminal `from`, for
 * every event but `Rerun`.
 */
export function nextStepState(from: StepState, event: StepEvent): StepState {
  return machine.next(from, event);
}

/** Like {@link nextStepState} but returns undefined instead of throwing. */
export function tryNextStepState(from: StepState, event: StepEvent): StepState | undefined {
  return machine.tryNext(from, event);
}

/** True when some event moves a step directly from `from` to `to`. */
export function canTransitionStep(from: StepState, to: StepState): boolean {
  return machine.canTransition(from, to);
}

/** The distinct (from, to) pairs the step table allows, in table order (mirrored in the database). */
export function allowedStepStatePairs(): StatePair<StepState>[] {
  return machine.pairs();
}
