/**
 * What a step's detail carries beyond the step itself, as the panel shows it: the attempts in order, and its
 * inputs, the results of the steps above it and its checkpoint, each left out when there is nothing to show.
 */
import type { StepAttempt, StepDetailBody } from './api-types.js';

export interface StepExtras {
  /** Attempts, oldest first (by run, then attempt). */
  attempts: StepAttempt[];
  inputs: unknown;
  /** The results of the step's ancestors, as its handler receives them. */
  dependencyResults: unknown;
  checkpoint: unknown;
}

/** An empty object or null counts as nothing to show. */
function present(value: unknown): unknown {
  if (value === null || value === undefined) return undefined;
  if (typeof value === 'object' && !Array.isArray(value) && Object.keys(value).length === 0) return undefined;
  return value;
}

export function extrasOf(step: StepDetailBody): StepExtras {
  return {
    attempts: [...step.attempt_history].sort((a, b) => a.run - b.run || a.attempt - b.attempt),
    inputs: present(step.inputs),
    dependencyResults: present(step.dependency_results),
    checkpoint: present(step.checkpoint),
  };
}
