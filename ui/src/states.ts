/**
 * One colour language for task and step states, used by every badge, graph node, grid cell and timeline bar:
 * pending grey, queued / running blue (running pulses), done green, failed red, waiting for retry amber,
 * skipped / cancelled muted.
 */

/** The colour family of a state; CSS classes are `tone-<tone>`. */
export type Tone = 'pending' | 'queued' | 'running' | 'done' | 'failed' | 'retry' | 'muted';

const TONES: Record<string, Tone> = {
  // Shared by tasks and steps.
  pending: 'pending',
  complete: 'done',
  resolved_manually: 'done',
  error: 'failed',
  cancelled: 'muted',
  waiting_for_retry: 'retry',
  // Steps.
  enqueued: 'queued',
  in_progress: 'running',
  enqueued_for_orchestration: 'queued',
  enqueued_as_error_for_orchestration: 'queued',
  skipped: 'muted',
  // Tasks.
  initializing: 'queued',
  enqueuing_steps: 'queued',
  steps_in_process: 'running',
  evaluating_results: 'running',
  waiting_for_dependencies: 'queued',
  blocked_by_failures: 'failed',
  // Attempt outcomes.
  running: 'running',
  succeeded: 'done',
  failed: 'failed',
  lease_expired: 'failed',
  released: 'muted',
  superseded: 'muted',
};

/** The tone of a task or step state (an unknown state is `pending`, so a new server state still renders). */
export function toneOf(state: string): Tone {
  return TONES[state] ?? 'pending';
}

/** The state as words: `in_progress` → `in progress`. */
export function stateLabel(state: string): string {
  return state.replace(/_/g, ' ');
}

/** Task states that are over: the task will not change unless an operator reopens it. */
export const FINISHED_TASK_STATES: ReadonlySet<string> = new Set([
  'complete',
  'error',
  'cancelled',
  'resolved_manually',
]);

/** Every task state, in lifecycle order (the filter chips of the task list). */
export const TASK_STATE_ORDER = [
  'pending',
  'initializing',
  'enqueuing_steps',
  'steps_in_process',
  'evaluating_results',
  'waiting_for_dependencies',
  'waiting_for_retry',
  'blocked_by_failures',
  'complete',
  'error',
  'cancelled',
  'resolved_manually',
] as const;

/** The legend of the colour language, in lifecycle order. */
export const TONE_LEGEND: readonly { tone: Tone; label: string }[] = [
  { tone: 'pending', label: 'pending' },
  { tone: 'queued', label: 'enqueued' },
  { tone: 'running', label: 'in progress' },
  { tone: 'retry', label: 'waiting for retry' },
  { tone: 'done', label: 'complete' },
  { tone: 'failed', label: 'error' },
  { tone: 'muted', label: 'skipped / cancelled' },
];
