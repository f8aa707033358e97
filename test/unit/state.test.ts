import { describe, expect, it } from 'vitest';
import { InvalidTransitionError, TaskerError, ErrorCode } from '../../src/errors.js';
import {
  STEP_EVENTS,
  STEP_STATES,
  STEP_TRANSITIONS,
  SATISFIES_DEPENDENCY,
  StepEvent,
  StepState,
  TASK_EVENTS,
  TASK_STATES,
  TASK_TRANSITIONS,
  TaskEvent,
  TaskState,
  allowedStepStatePairs,
  allowedTaskStatePairs,
  canTransitionStep,
  canTransitionTask,
  isStepState,
  isTaskState,
  isTerminalStepState,
  isTerminalTaskState,
  nextStepState,
  nextTaskState,
  satisfiesDependency,
  tryNextStepState,
  tryNextTaskState,
} from '../../src/state/index.js';

// The expected tables are restated here as text, independently of the source, so a change to either side fails.
const EXPECTED_TASK = `
pending Start initializing
initializing ReadyStepsFound enqueuing_steps
initializing NoStepsFound complete
initializing NoDependenciesReady waiting_for_dependencies
enqueuing_steps StepsEnqueued steps_in_process
enqueuing_steps EnqueueFailed error
steps_in_process StepCompleted evaluating_results
evaluating_results AllStepsSuccessful complete
evaluating_results ReadyStepsFound enqueuing_steps
evaluating_results StepsStillInProcess steps_in_process
evaluating_results NoDependenciesReady waiting_for_dependencies
evaluating_results RetryScheduled waiting_for_retry
evaluating_results PermanentFailure blocked_by_failures
waiting_for_dependencies DependenciesReady evaluating_results
waiting_for_retry RetryReady enqueuing_steps
blocked_by_failures GiveUp error
blocked_by_failures ManualResolution resolved_manually
blocked_by_failures Resume evaluating_results
error Resume evaluating_results
waiting_for_retry Resume evaluating_results
complete Rerun evaluating_results
resolved_manually Rerun evaluating_results
pending Cancel cancelled
initializing Cancel cancelled
enqueuing_steps Cancel cancelled
steps_in_process Cancel cancelled
evaluating_results Cancel cancelled
waiting_for_dependencies Cancel cancelled
waiting_for_retry Cancel cancelled
blocked_by_failures Cancel cancelled
`;

const STEP_NON_TERMINAL = [
  'pending',
  'enqueued',
  'in_progress',
  'enqueued_for_orchestration',
  'enqueued_as_error_for_orchestration',
  'waiting_for_retry',
  'error',
];
const EXPECTED_STEP =
  `
pending Enqueue enqueued
enqueued Start in_progress
in_progress EnqueueForOrchestration enqueued_for_orchestration
in_progress EnqueueAsErrorForOrchestration enqueued_as_error_for_orchestration
in_progress LeaseExpired enqueued
in_progress Release enqueued
enqueued_for_orchestration Complete complete
enqueued_for_orchestration Fail error
enqueued_as_error_for_orchestration WaitForRetry waiting_for_retry
enqueued_as_error_for_orchestration Fail error
waiting_for_retry Retry pending
error ResetForRetry pending
pending Skip skipped
` +
  STEP_NON_TERMINAL.map(
    (s) => `${s} Cancel cancelled\n${s} ResolveManually resolved_manually\n${s} CompleteManually complete`,
  ).join('\n') +
  `
waiting_for_retry Rerun pending
complete Rerun pending
error Rerun pending
cancelled Rerun pending
resolved_manually Rerun pending
skipped Rerun pending
`;

function parseTable(text: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of text.trim().split('\n')) {
    const [from, event, to] = line.trim().split(/\s+/);
    if (!from || !event || !to) throw new Error(`bad line ${line}`);
    m.set(`${from} ${event}`, to);
  }
  return m;
}

const expectedTask = parseTable(EXPECTED_TASK);
const expectedStep = parseTable(EXPECTED_STEP);

describe('state constants', () => {
  it('has the 12 task states and 11 step states', () => {
    expect(TASK_STATES).toHaveLength(12);
    expect(new Set(TASK_STATES).size).toBe(12);
    expect(STEP_STATES).toHaveLength(11);
    expect(new Set(STEP_STATES).size).toBe(11);
    expect(TaskState.BlockedByFailures).toBe('blocked_by_failures');
    expect(StepState.EnqueuedAsErrorForOrchestration).toBe('enqueued_as_error_for_orchestration');
  });

  it('recognises state strings', () => {
    expect(isTaskState('steps_in_process')).toBe(true);
    expect(isTaskState('in_progress')).toBe(false);
    expect(isStepState('in_progress')).toBe(true);
    expect(isStepState('initializing')).toBe(false);
  });

  it('classifies terminal states', () => {
    expect(TASK_STATES.filter(isTerminalTaskState).sort()).toEqual(
      ['cancelled', 'complete', 'resolved_manually'].sort(),
    );
    expect(STEP_STATES.filter(isTerminalStepState).sort()).toEqual([
      'cancelled',
      'complete',
      'resolved_manually',
      'skipped',
    ]);
    expect(isTerminalStepState(StepState.Error)).toBe(false);
  });

  it('only complete and resolved_manually satisfy a dependency', () => {
    expect([...SATISFIES_DEPENDENCY].sort()).toEqual(['complete', 'resolved_manually']);
    expect(STEP_STATES.filter(satisfiesDependency).sort()).toEqual(['complete', 'resolved_manually']);
  });
});

describe('task machine', () => {
  it('the table matches the decided transitions exactly', () => {
    expect(TASK_TRANSITIONS).toHaveLength(expectedTask.size);
    const actual = new Map(TASK_TRANSITIONS.map((r) => [`${r.from} ${r.event}`, r.to]));
    expect(actual).toEqual(expectedTask);
  });

  it('every allowed transition is applied', () => {
    for (const [k, to] of expectedTask) {
      const [from, event] = k.split(' ') as [TaskState, TaskEvent];
      expect(nextTaskState(from, event), k).toBe(to);
      expect(tryNextTaskState(from, event), k).toBe(to);
      expect(canTransitionTask(from, to as TaskState), k).toBe(true);
    }
  });

  it('every other (from, event) pair of the full cross product is rejected', () => {
    let rejected = 0;
    for (const from of TASK_STATES) {
      for (const event of TASK_EVENTS) {
        if (expectedTask.has(`${from} ${event}`)) continue;
        rejected++;
        expect(tryNextTaskState(from, event), `${from} ${event}`).toBeUndefined();
        expect(() => nextTaskState(from, event), `${from} ${event}`).toThrow(InvalidTransitionError);
      }
    }
    expect(rejected).toBe(TASK_STATES.length * TASK_EVENTS.length - expectedTask.size);
  });

  it('terminal states reject every event but an operator re-run, which only complete and resolved_manually take', () => {
    for (const from of TASK_STATES.filter(isTerminalTaskState)) {
      for (const event of TASK_EVENTS.filter((e) => e !== TaskEvent.Rerun)) {
        expect(() => nextTaskState(from, event)).toThrow(InvalidTransitionError);
      }
      for (const to of TASK_STATES) {
        expect(canTransitionTask(from, to)).toBe(
          to === TaskState.EvaluatingResults && from !== TaskState.Cancelled,
        );
      }
    }
    expect(nextTaskState(TaskState.Complete, TaskEvent.Rerun)).toBe(TaskState.EvaluatingResults);
    expect(() => nextTaskState(TaskState.Cancelled, TaskEvent.Rerun)).toThrow(InvalidTransitionError);
    // A running task is not re-run (its steps are still moving).
    expect(tryNextTaskState(TaskState.StepsInProcess, TaskEvent.Rerun)).toBeUndefined();
  });

  it('the thrown error carries the code and names the state and event', () => {
    try {
      nextTaskState(TaskState.Complete, TaskEvent.Cancel);
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(TaskerError);
      expect((e as TaskerError).code).toBe(ErrorCode.InvalidTransition);
      expect((e as Error).message).toContain("'complete'");
      expect((e as Error).message).toContain("'Cancel'");
    }
  });

  it('allowedTaskStatePairs lists each distinct (from, to) pair once', () => {
    const pairs = allowedTaskStatePairs();
    const keys = pairs.map((p) => `${p.from}>${p.to}`);
    expect(new Set(keys).size).toBe(keys.length);
    const expected = new Set([...expectedTask].map(([k, to]) => `${k.split(' ')[0]}>${to}`));
    expect(new Set(keys)).toEqual(expected);
    // No two task events share a (from, to) pair, so there is one pair per row.
    expect(pairs).toHaveLength(TASK_TRANSITIONS.length);
    for (const from of TASK_STATES) {
      for (const to of TASK_STATES) {
        expect(canTransitionTask(from, to), `${from}>${to}`).toBe(expected.has(`${from}>${to}`));
      }
    }
  });

  it('returns a copy, so callers cannot corrupt the pair list', () => {
    const a = allowedTaskStatePairs();
    a.length = 0;
    expect(allowedTaskStatePairs().length).toBeGreaterThan(0);
  });

  it('the happy path walks from pending to complete', () => {
    let s: TaskState = TaskState.Pending;
    for (const e of [
      TaskEvent.Start,
      TaskEvent.ReadyStepsFound,
      TaskEvent.StepsEnqueued,
      TaskEvent.StepCompleted,
      TaskEvent.AllStepsSuccessful,
    ]) {
      s = nextTaskState(s, e);
    }
    expect(s).toBe(TaskState.Complete);
  });
});

describe('step machine', () => {
  it('the table matches the decided transitions exactly', () => {
    expect(STEP_TRANSITIONS).toHaveLength(expectedStep.size);
    const actual = new Map(STEP_TRANSITIONS.map((r) => [`${r.from} ${r.event}`, r.to]));
    expect(actual).toEqual(expectedStep);
  });

  it('every allowed transition is applied', () => {
    for (const [k, to] of expectedStep) {
      const [from, event] = k.split(' ') as [StepState, StepEvent];
      expect(nextStepState(from, event), k).toBe(to);
      expect(canTransitionStep(from, to as StepState), k).toBe(true);
    }
  });

  it('every other (from, event) pair of the full cross product is rejected', () => {
    let rejected = 0;
    for (const from of STEP_STATES) {
      for (const event of STEP_EVENTS) {
        if (expectedStep.has(`${from} ${event}`)) continue;
        rejected++;
        expect(tryNextStepState(from, event), `${from} ${event}`).toBeUndefined();
        expect(() => nextStepState(from, event), `${from} ${event}`).toThrow(InvalidTransitionError);
      }
    }
    expect(rejected).toBe(STEP_STATES.length * STEP_EVENTS.length - expectedStep.size);
  });

  it('terminal states reject every event, including the manual ones, but an operator re-run', () => {
    for (const from of [
      StepState.Complete,
      StepState.Cancelled,
      StepState.ResolvedManually,
      StepState.Skipped,
    ]) {
      for (const event of STEP_EVENTS.filter((e) => e !== StepEvent.Rerun)) {
        expect(() => nextStepState(from, event), `${from} ${event}`).toThrow(InvalidTransitionError);
      }
      expect(nextStepState(from, StepEvent.Rerun)).toBe(StepState.Pending);
      for (const to of STEP_STATES) expect(canTransitionStep(from, to)).toBe(to === StepState.Pending);
    }
  });

  it('a re-run never touches a pending or running step', () => {
    for (const from of [
      StepState.Pending,
      StepState.Enqueued,
      StepState.InProgress,
      StepState.EnqueuedForOrchestration,
      StepState.EnqueuedAsErrorForOrchestration,
    ]) {
      expect(tryNextStepState(from, StepEvent.Rerun), from).toBeUndefined();
    }
  });

  it('error is not terminal: it can be reset, cancelled or resolved', () => {
    expect(nextStepState(StepState.Error, StepEvent.ResetForRetry)).toBe(StepState.Pending);
    expect(nextStepState(StepState.Error, StepEvent.Cancel)).toBe(StepState.Cancelled);
    expect(nextStepState(StepState.Error, StepEvent.ResolveManually)).toBe(StepState.ResolvedManually);
    expect(() => nextStepState(StepState.Error, StepEvent.Retry)).toThrow(InvalidTransitionError);
  });

  it('a dead worker lease sends an in-progress step back to enqueued', () => {
    expect(nextStepState(StepState.InProgress, StepEvent.LeaseExpired)).toBe(StepState.Enqueued);
    expect(() => nextStepState(StepState.Enqueued, StepEvent.LeaseExpired)).toThrow(InvalidTransitionError);
  });

  it('the retry loop goes through waiting_for_retry back to pending', () => {
    let s: StepState = StepState.Pending;
    for (const e of [
      StepEvent.Enqueue,
      StepEvent.Start,
      StepEvent.EnqueueAsErrorForOrchestration,
      StepEvent.WaitForRetry,
      StepEvent.Retry,
    ]) {
      s = nextStepState(s, e);
    }
    expect(s).toBe(StepState.Pending);
  });

  it('allowedStepStatePairs lists each distinct (from, to) pair once and agrees with canTransitionStep', () => {
    const pairs = allowedStepStatePairs();
    const keys = pairs.map((p) => `${p.from}>${p.to}`);
    expect(new Set(keys).size).toBe(keys.length);
    const expected = new Set([...expectedStep].map(([k, to]) => `${k.split(' ')[0]}>${to}`));
    expect(new Set(keys)).toEqual(expected);
    // enqueued_for_orchestration reaches complete by Complete and CompleteManually: one pair, two rows.
    expect(pairs.length).toBeLessThan(STEP_TRANSITIONS.length);
    for (const from of STEP_STATES) {
      for (const to of STEP_STATES) {
        expect(canTransitionStep(from, to), `${from}>${to}`).toBe(expected.has(`${from}>${to}`));
      }
    }
  });
});
