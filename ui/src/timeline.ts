/**
 * A task's timeline from its transitions: one row per step, one bar per attempt (from `in_progress` until it
 * left that state), the waits between them visible (queued before an attempt, waiting for a retry), and markers
 * where an operator acted. Pure: transitions in, bars out.
 */
import type { TransitionBody } from './api-types.js';

/** What a bar shows. */
export type BarKind = 'queued' | 'attempt' | 'retry_wait';

/** How an attempt ended; `running` while it still runs. */
export type AttemptOutcome = 'running' | 'complete' | 'retry' | 'error' | 'cancelled';

export interface TimelineBar {
  kind: BarKind;
  /** Milliseconds since the epoch. */
  start: number;
  end: number;
  /** True while the bar is still growing (its end is `now`). */
  open: boolean;
  /** 1-based attempt number, for attempt bars. */
  attempt?: number;
  outcome?: AttemptOutcome;
}

/** An operator action on the step (reset, resolve, complete, re-run). */
export interface TimelineMarker {
  at: number;
  label: string;
}

export interface TimelineRow {
  stepUuid: string;
  stepName: string;
  bars: TimelineBar[];
  markers: TimelineMarker[];
}

export interface Timeline {
  start: number;
  end: number;
  rows: TimelineRow[];
}

const LEAVES_ATTEMPT_AS_FAILURE = new Set(['enqueued_as_error_for_orchestration', 'error']);

interface RowState {
  row: TimelineRow;
  open: TimelineBar | undefined;
  attempts: number;
  /** The attempt bar whose failure is not yet known to be retried or final. */
  failed: TimelineBar | undefined;
}

function close(state: RowState, at: number): void {
  if (state.open) {
    state.open.end = at;
    state.open.open = false;
    state.open = undefined;
  }
}

function openBar(state: RowState, kind: BarKind, at: number): TimelineBar {
  const bar: TimelineBar = { kind, start: at, end: at, open: true };
  state.row.bars.push(bar);
  state.open = bar;
  return bar;
}

/** The operator action a transition records (`metadata.action`, `by`), as words; undefined for the engine's own. */
export function operatorLabel(t: TransitionBody): string | undefined {
  const meta = t.metadata ?? {};
  const raw = typeof meta.action === 'string' ? meta.action : meta.action_type;
  const action = typeof raw === 'string' ? raw.replace(/_/g, ' ') : undefined;
  const by = typeof meta.by === 'string' ? meta.by : undefined;
  if (!action && !by) return undefined;
  const what = action ?? t.to_state.replace(/_/g, ' ');
  return by ? `${what} by ${by}` : what;
}

function apply(state: RowState, t: TransitionBody, at: number): void {
  const label = operatorLabel(t);
  if (label) state.row.markers.push({ at, label });
  const leaving = state.open;
  close(state, at);
  if (leaving?.kind === 'attempt') {
    if (t.to_state === 'cancelled') leaving.outcome = 'cancelled';
    else if (LEAVES_ATTEMPT_AS_FAILURE.has(t.to_state)) {
      leaving.outcome = 'error';
      state.failed = leaving;
    } else leaving.outcome = 'complete';
  }
  // A failed attempt followed by a wait for retry was retried; one followed by `error` was final.
  if (state.failed && t.to_state === 'waiting_for_retry') {
    state.failed.outcome = 'retry';
    state.failed = undefined;
  } else if (state.failed && t.to_state !== 'enqueued_as_error_for_orchestration') {
    state.failed = undefined;
  }
  switch (t.to_state) {
    case 'enqueued':
      openBar(state, 'queued', at);
      break;
    case 'in_progress':
      state.attempts += 1;
      Object.assign(openBar(state, 'attempt', at), { attempt: state.attempts, outcome: 'running' });
      break;
    case 'waiting_for_retry':
      openBar(state, 'retry_wait', at);
      break;
    default:
      break;
  }
}

/**
 * Builds the timeline of a task from its transitions (any order; sorted by time here). Bars still open end at
 * `now`, or at the last transition when the task is finished (`finished`).
 */
export function buildTimeline(
  transitions: readonly TransitionBody[],
  now: number,
  finished = false,
): Timeline {
  const sorted = [...transitions].sort(
    (a, b) => Date.parse(a.created_at) - Date.parse(b.created_at) || a.sort_key - b.sort_key,
  );
  const rows = new Map<string, RowState>();
  let start = Number.POSITIVE_INFINITY;
  let last = Number.NEGATIVE_INFINITY;
  for (const t of sorted) {
    const at = Date.parse(t.created_at);
    start = Math.min(start, at);
    last = Math.max(last, at);
    if (t.entity !== 'step' || t.step_uuid === null) continue;
    let state = rows.get(t.step_uuid);
    if (!state) {
      state = {
        row: { stepUuid: t.step_uuid, stepName: t.step_name ?? t.step_uuid, bars: [], markers: [] },
        open: undefined,
        attempts: 0,
        failed: undefined,
      };
      rows.set(t.step_uuid, state);
    }
    apply(state, t, at);
  }
  if (sorted.length === 0) return { start: now, end: now, rows: [] };
  const end = finished ? last : Math.max(now, last);
  for (const state of rows.values()) {
    if (state.open) state.open.end = end;
    if (finished) close(state, last);
  }
  return { start, end, rows: [...rows.values()].map((s) => s.row) };
}

/** Maps a time to an x coordinate in `[0, width]`. */
export function timeScale(timeline: Pick<Timeline, 'start' | 'end'>, width: number): (t: number) => number {
  const span = Math.max(1, timeline.end - timeline.start);
  return (t) => ((t - timeline.start) / span) * width;
}
