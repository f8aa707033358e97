/**
 * The timeline of a task: one row per step, one bar per attempt coloured by how it ended, the waits (queued,
 * waiting for a retry) as lighter bars, operator actions as markers. Rows are virtualised for large tasks.
 */
import { formatDuration } from '../format.js';
import type { Timeline, TimelineBar } from '../timeline.js';
import { VirtualList } from './virtual-list.js';

const OUTCOME_TONE = {
  running: 'running',
  complete: 'done',
  retry: 'failed',
  error: 'failed',
  cancelled: 'muted',
} as const;

function barClass(bar: TimelineBar): string {
  if (bar.kind === 'queued') return 'bar bar-queued';
  if (bar.kind === 'retry_wait') return 'bar bar-wait tone-retry';
  return `bar bar-attempt tone-${OUTCOME_TONE[bar.outcome ?? 'running']}`;
}

function barTitle(bar: TimelineBar): string {
  const length = formatDuration(bar.end - bar.start);
  if (bar.kind === 'queued') return `queued ${length}`;
  if (bar.kind === 'retry_wait') return `waiting for retry ${length}`;
  const outcome = bar.outcome === 'retry' ? 'failed, retried' : (bar.outcome ?? 'running');
  return `attempt ${bar.attempt ?? '?'}: ${outcome}, ${length}${bar.open ? ' so far' : ''}`;
}

function ticks(timeline: Timeline): { at: number; label: string }[] {
  const span = Math.max(1, timeline.end - timeline.start);
  return [0, 0.25, 0.5, 0.75, 1].map((f) => ({ at: f, label: `+${formatDuration(span * f)}` }));
}

export interface TimelineViewProps {
  timeline: Timeline;
  /** Row order: step uuids (the task's step order); rows not listed follow. */
  order: readonly string[];
  selectedId?: string | undefined;
  onSelect?: (stepUuid: string) => void;
}

export function TimelineView({ timeline, order, selectedId, onSelect }: TimelineViewProps) {
  const rank = new Map(order.map((id, i) => [id, i]));
  const rows = [...timeline.rows].sort(
    (a, b) => (rank.get(a.stepUuid) ?? Infinity) - (rank.get(b.stepUuid) ?? Infinity),
  );
  const span = Math.max(1, timeline.end - timeline.start);
  const pct = (t: number) => `${(((t - timeline.start) / span) * 100).toFixed(3)}%`;
  const width = (a: number, b: number) => `max(2px, ${(((b - a) / span) * 100).toFixed(3)}%)`;
  if (rows.length === 0) return <p class="muted">No step has started yet.</p>;
  return (
    <div class="timeline">
      <div class="timeline-axis">
        <span class="timeline-label" />
        <span class="timeline-track">
          {ticks(timeline).map((t) => (
            <span key={t.at} class="tick" style={{ left: `${t.at * 100}%` }}>
              {t.label}
            </span>
          ))}
        </span>
      </div>
      <VirtualList
        class="timeline-rows"
        label="Timeline"
        items={rows}
        rowHeight={26}
        maxHeight={420}
        keyOf={(r) => r.stepUuid}
        renderRow={(row) => (
          <div
            class={`timeline-row${row.stepUuid === selectedId ? ' selected' : ''}`}
            data-step={row.stepName}
            onClick={() => onSelect?.(row.stepUuid)}
          >
            <span class="timeline-label" title={row.stepName}>
              {row.stepName}
            </span>
            <span class="timeline-track">
              {row.bars.map((bar, i) => (
                <span
                  key={i}
                  class={barClass(bar) + (bar.open ? ' open' : '')}
                  data-kind={bar.kind}
                  data-outcome={bar.outcome}
                  title={barTitle(bar)}
                  style={{ left: pct(bar.start), width: width(bar.start, bar.end) }}
                />
              ))}
              {row.markers.map((m, i) => (
                <span key={`m${i}`} class="marker" title={m.label} style={{ left: pct(m.at) }} />
              ))}
            </span>
          </div>
        )}
      />
    </div>
  );
}
