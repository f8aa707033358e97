/** Which operator actions a step offers in each state (the server checks again and refuses the rest). */
import type { StepAction } from './api.js';

export type StepActionKind = StepAction['action_type'];

/**
 * The actions for a step in `state`: a failed step can be retried, resolved, completed by hand or re-run from;
 * a step still waiting can be resolved or completed by hand; a finished one can be re-run from.
 */
export function actionsFor(state: string): StepActionKind[] {
  switch (state) {
    case 'error':
      return ['reset_for_retry', 'resolve_manually', 'complete_manually', 'rerun_from'];
    case 'waiting_for_retry':
    case 'pending':
      return ['resolve_manually', 'complete_manually'];
    case 'complete':
    case 'resolved_manually':
      return ['rerun_from'];
    default:
      return [];
  }
}
