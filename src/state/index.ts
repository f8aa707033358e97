/**
 * Task and step state machines: pure data and functions, no I/O. The transition tables are the specification
 * that the SQL state tables mirror (checked by test/integration/state-mirror.test.ts); the engine itself
 * transitions rows in SQL and uses only the state names and sets from here.
 */
export type { StatePair, Transition } from './machine.js';
export {
  TaskState,
  TaskEvent,
  TASK_STATES,
  TASK_EVENTS,
  TASK_TRANSITIONS,
  TERMINAL_TASK_STATES,
  FINISHED_TASK_STATES,
  isTaskState,
  isTerminalTaskState,
  nextTaskState,
  tryNextTaskState,
  canTransitionTask,
  allowedTaskStatePairs,
} from './task.js';
export {
  StepState,
  StepEvent,
  STEP_STATES,
  STEP_EVENTS,
  STEP_TRANSITIONS,
  TERMINAL_STEP_STATES,
  SATISFIES_DEPENDENCY,
  isStepState,
  isTerminalStepState,
  satisfiesDependency,
  nextStepState,
  tryNextStepState,
  canTransitionStep,
  allowedStepStatePairs,
} from './step.js';
