/**
 * What a step's detail may carry beyond the step itself: the history of its attempts, its inputs and its
 * checkpoints. Servers that do not record them simply leave them out, and the panel shows what is there.
 */
import type { StepDetail } from './api.js';
import type { StepAttempt } from './api-types.js';

export interface StepExtras {
  /** Attempts, oldest first, when the server reports them. */
  attempts: StepAttempt[] | undefined;
  attemptCount: number;
  inputs: unknown;
  /** The results of the step's ancestors, as its handler receives them. */
  dependencyResults: unknown;
  checkpoints: unknown;
}

function isAttempt(value: unknown): value is StepAttempt {
  return typeof value === 'object' && value !== null && typeof (value as StepAttempt).attempt === 'number';
}

function attemptList(value: unknown): StepAttempt[] | undefined {
  if (!Array.isArray(value)) return undefined;
  return value.filter(isAttempt).sort((a, b) => (a.run ?? 1) - (b.run ?? 1) || a.attempt - b.attempt);
}

/** An empty object counts as nothing to show. */
function present(value: unknown): unknown {
  if (value === null || value === undefined) return undefined;
  if (typeof value === 'object' && !Array.isArray(value) && Object.keys(value).length === 0) return undefined;
  return value;
}

/** Reads the extras of a step detail, whichever of the documented names the server used. */
export function extrasOf(step: StepDetail): StepExtras {
  const attempts =
    attemptList(step.attempts) ?? attemptList(step.attempt_history) ?? attemptList(step.history);
  const count = typeof step.attempts === 'number' ? step.attempts : (attempts?.length ?? 0);
  const attemptCount = typeof step.attempt_count === 'number' ? step.attempt_count : count;
  return {
    attempts,
    attemptCount,
    inputs: present(step.inputs),
    dependencyResults: present(step.dependency_results),
    checkpoints: present(step.checkpoints ?? step.checkpoint),
  };
}
