/**
 * The task state machine. A task moves through these states as the orchestrator discovers, enqueues and
 * evaluates its steps.
 *
 * The engine moves tasks in SQL (sql/functions/), not through this module: at run time only the state names and
 * sets here are used. The transition table is the specification that SQL mirrors: its state-transition table and
 * CHECK predicates are compared with it by the parity test (test/integration/state-mirror.test.ts), and the
 * unit tests enumerate it. Change a transition here and in SQL together.
 */
import { buildMachine, type StatePair, type Transition } from './machine.js';

/** Every state a task can be in. */
export const TaskState = {
  Pending: 'pending',
  Initializing: 'initializing',
  EnqueuingSteps: 'enqueuing_steps',
  StepsInProcess: 'steps_in_process',
  EvaluatingResults: 'evaluating_results',
  WaitingForDependencies: 'waiting_for_dependencies',
  WaitingForRetry: 'waiting_for_retry',
  BlockedByFailures: 'blocked_by_failures',
  Complete: 'complete',
  Error: 'error',
  Cancelled: 'cancelled',
  ResolvedManually: 'resolved_manually',
} as const;
/** A task state, as stored in the database. */
export type TaskState = (typeof TaskState)[keyof typeof TaskState];

/** Every task state, in lifecycle order. */
export const TASK_STATES: readonly TaskState[] = Object.freeze(Object.values(TaskState));

/** Events that drive the task machine. */
export const TaskEvent = {
  Start: 'Start',
  ReadyStepsFound: 'ReadyStepsFound',
  NoStepsFound: 'NoStepsFound',
  NoDependenciesReady: 'NoDependenciesReady',
  StepsEnqueued: 'StepsEnqueued',
  EnqueueFailed: 'EnqueueFailed',
  StepCompleted: 'StepCompleted',
  AllStepsSuccessful: 'AllStepsSuccessful',
  StepsStillInProcess: 'StepsStillInProcess',
  RetryScheduled: 'RetryScheduled',
  PermanentFailure: 'PermanentFailure',
  DependenciesReady: 'DependenciesReady',
  RetryReady: 'RetryReady',
  GiveUp: 'GiveUp',
  ManualResolution: 'ManualResolution',
  Resume: 'Resume',
  /** An operator re-runs a finished task from one of its steps (`tasker.rerun_from_step`). */
  Rerun: 'Rerun',
  Cancel: 'Cancel',
} as const;
/** A task event name. */
export type TaskEvent = (typeof TaskEvent)[keyof typeof TaskEvent];

/** Every task event. */
export const TASK_EVENTS: readonly TaskEvent[] = Object.freeze(Object.values(TaskEvent));

/**
 * States the engine never moves a task out of. Only an operator's re-run from a step (`Rerun`) reopens a
 * `complete` or `resolved_manually` task; a `cancelled` task stays cancelled.
 */
export const TERMINAL_TASK_STATES: ReadonlySet<TaskState> = new Set<TaskState>([
  TaskState.Complete,
  TaskState.Cancelled,
  TaskState.ResolvedManually,
]);

/**
 * States the engine never leaves on its own: the terminal ones, and `error`, which only an operator action on a
 * step (reset, resolve, complete manually) can reopen (`Resume`). Waiting for a task means waiting for one of
 * these.
 */
export const FINISHED_TASK_STATES: ReadonlySet<TaskState> = new Set<TaskState>([
  ...TERMINAL_TASK_STATES,
  TaskState.Error,
]);

const S = TaskState;
const E = TaskEvent;

function t(from: TaskState, event: TaskEvent, to: TaskState): Transition<TaskState, TaskEvent> {
  return Object.freeze({ from, event, to });
}

/**
 * The complete task transition table. Anything not listed is rejected. Unlike the reference, there are no
 * legacy rows (`Complete`, `Fail`, `Reset`, `ResolveManually` from any state): every row here has a caller.
 * `StepsStillInProcess`, `RetryScheduled` and `Resume` are ours: they let evaluation return to waiting for
 * running steps, make the `waiting_for_retry` state reachable, and re-evaluate a blocked task after an operator
 * fixes a step (the reference can do none of these).
 */
export const TASK_TRANSITIONS: readonly Transition<TaskState, TaskEvent>[] = Object.freeze([
  t(S.Pending, E.Start, S.Initializing),
  t(S.Initializing, E.ReadyStepsFound, S.EnqueuingSteps),
  t(S.Initializing, E.NoStepsFound, S.Complete),
  t(S.Initializing, E.NoDependenciesReady, S.WaitingForDependencies),
  t(S.EnqueuingSteps, E.StepsEnqueued, S.StepsInProcess),
  t(S.EnqueuingSteps, E.EnqueueFailed, S.Error),
  t(S.StepsInProcess, E.StepCompleted, S.EvaluatingResults),
  t(S.EvaluatingResults, E.AllStepsSuccessful, S.Complete),
  t(S.EvaluatingResults, E.ReadyStepsFound, S.EnqueuingSteps),
  t(S.EvaluatingResults, E.StepsStillInProcess, S.StepsInProcess),
  t(S.EvaluatingResults, E.NoDependenciesReady, S.WaitingForDependencies),
  t(S.EvaluatingResults, E.RetryScheduled, S.WaitingForRetry),
  t(S.EvaluatingResults, E.PermanentFailure, S.BlockedByFailures),
  t(S.WaitingForDependencies, E.DependenciesReady, S.EvaluatingResults),
  t(S.WaitingForRetry, E.RetryReady, S.EnqueuingSteps),
  t(S.BlockedByFailures, E.GiveUp, S.Error),
  t(S.BlockedByFailures, E.ManualResolution, S.ResolvedManually),
  t(S.BlockedByFailures, E.Resume, S.EvaluatingResults),
  // Operator actions on a step re-evaluate a failed task, or one waiting for a retry.
  t(S.Error, E.Resume, S.EvaluatingResults),
  t(S.WaitingForRetry, E.Resume, S.EvaluatingResults),
  // An operator re-runs a finished task from one of its steps (error and blocked tasks re-run through Resume).
  t(S.Complete, E.Rerun, S.EvaluatingResults),
  t(S.ResolvedManually, E.Rerun, S.EvaluatingResults),
  // Cancellation is allowed from every state the engine may still move on from.
  ...TASK_STATES.filter((s) => !FINISHED_TASK_STATES.has(s)).map((s) => t(s, E.Cancel, S.Cancelled)),
]);

const machine = buildMachine('task', TASK_TRANSITIONS);

/** True when `value` is one of the twelve task states (use it to check strings read from outside). */
export function isTaskState(value: string): value is TaskState {
  return (TASK_STATES as readonly string[]).includes(value);
}

/** True for `complete`, `cancelled` and `resolved_manually` (which only an operator's `Rerun` leaves). */
export function isTerminalTaskState(state: TaskState): boolean {
  return TERMINAL_TASK_STATES.has(state);
}

/**
 * The state a task in `from` moves to on `event`.
 * @throws InvalidTransitionError when the table has no row for (from, event); for a terminal `from`, for
 * every event but `Rerun`.
 */
export function nextTaskState(from: TaskState, event: TaskEvent): TaskState {
  return machine.next(from, event);
}

/** Like {@link nextTaskState} but returns undefined instead of throwing. */
export function tryNextTaskState(from: TaskState, event: TaskEvent): TaskState | undefined {
  return machine.tryNext(from, event);
}

/** True when some event moves a task directly from `from` to `to`. */
export function canTransitionTask(from: TaskState, to: TaskState): boolean {
  return machine.canTransition(from, to);
}

/**
 * The distinct (from, to) pairs the table allows, in table order. The database mirrors this list in a table
 * that guards compare-and-swap transitions; a test checks that the two agree.
 */
export function allowedTaskStatePairs(): StatePair<TaskState>[] {
  return machine.pairs();
}
