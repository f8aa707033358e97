/**
 * Tasks over time as bars: for each time bucket, the tasks created (blue) beside the tasks that finished,
 * stacked by outcome (completed green, failed red, cancelled grey). Drawn at the container's real width, so
 * text is never stretched.
 */
import { useLayoutEffect, useRef, useState } from 'preact/hooks';
import type { OverviewBucket } from '../api-types.js';
import { niceMax } from '../chart-scale.js';
import { formatCount } from '../format.js';

const HEIGHT = 190;
const PAD = { left: 34, right: 6, top: 8, bottom: 20 };

function label(iso: string | undefined, long: boolean): string {
  if (!iso) return '';
  const d = new Date(iso);
  const time = `${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}`;
  return long ? `${d.toLocaleDateString('en-US', { month: 'short', day: 'numeric' })} ${time}` : time;
}

const SERIES = [
  { key: 'created', name: 'created', class: 'series-created' },
  { key: 'completed', name: 'completed', class: 'series-completed' },
  { key: 'failed', name: 'failed', class: 'series-failed' },
  { key: 'cancelled', name: 'cancelled', class: 'series-cancelled' },
] as const;

export function BucketChart({ buckets, label: title }: { buckets: OverviewBucket[]; label: string }) {
  const box = useRef<HTMLDivElement>(null);
  const [width, setWidth] = useState(800);
  useLayoutEffect(() => {
    const el = box.current;
    if (!el) return undefined;
    setWidth(el.clientWidth);
    const observer = new ResizeObserver(() => setWidth(el.clientWidth));
    observer.observe(el);
    return () => observer.disconnect();
  }, []);
  const finished = (b: OverviewBucket) => b.completed + b.failed + (b.cancelled ?? 0);
  const max = niceMax(Math.max(0, ...buckets.map((b) => Math.max(b.created, finished(b)))));
  const plotW = Math.max(1, width - PAD.left - PAD.right);
  const plotH = HEIGHT - PAD.top - PAD.bottom;
  const slot = plotW / Math.max(1, buckets.length);
  const barW = Math.max(1, Math.min(14, slot * 0.36));
  const y = (v: number) => PAD.top + plotH - (v / max) * plotH;
  const h = (v: number) => (v / max) * plotH;
  const spansDays =
    buckets.length > 1 &&
    Date.parse(buckets[buckets.length - 1]?.start ?? '') - Date.parse(buckets[0]?.start ?? '') > 86_400_000;
  const totals = SERIES.map((s) => ({
    ...s,
    total: buckets.reduce((a, b) => a + (s.key === 'cancelled' ? (b.cancelled ?? 0) : b[s.key]), 0),
  }));
  return (
    <figure class="chart" ref={box}>
      <svg width={width} height={HEIGHT} role="img" aria-label={title}>
        {[0, max / 2, max].map((g) => (
          <g key={g}>
            <line x1={PAD.left} x2={width - PAD.right} y1={y(g)} y2={y(g)} class="chart-grid" />
            <text x={PAD.left - 6} y={y(g) + 4} class="chart-tick" text-anchor="end">
              {formatCount(Math.round(g))}
            </text>
          </g>
        ))}
        {buckets.map((b, i) => {
          const x = PAD.left + i * slot + slot / 2;
          const stack = [
            { v: b.completed, c: 'series-completed' },
            { v: b.failed, c: 'series-failed' },
            { v: b.cancelled ?? 0, c: 'series-cancelled' },
          ];
          let top = y(0);
          return (
            <g key={b.start}>
              <title>
                {`${label(b.start, true)}: ${b.created} created, ${b.completed} completed, ${b.failed} failed, ${b.cancelled ?? 0} cancelled`}
              </title>
              <rect
                x={x - barW - 1}
                y={y(b.created)}
                width={barW}
                height={h(b.created)}
                class="bar-fill series-created"
              />
              {stack.map((s) => {
                top -= h(s.v);
                return s.v > 0 ? (
                  <rect key={s.c} x={x + 1} y={top} width={barW} height={h(s.v)} class={`bar-fill ${s.c}`} />
                ) : null;
              })}
            </g>
          );
        })}
        {buckets.length > 0
          ? [0, Math.floor((buckets.length - 1) / 2), buckets.length - 1].map((i, k) => (
              <text
                key={k}
                x={PAD.left + i * slot + slot / 2}
                y={HEIGHT - 4}
                class="chart-tick"
                text-anchor={k === 0 ? 'start' : k === 2 ? 'end' : 'middle'}
              >
                {label(buckets[i]?.start, spansDays)}
              </text>
            ))
          : null}
      </svg>
      <figcaption class="legend">
        {totals.map((s) => (
          <span key={s.key} class={`legend-item ${s.class}`}>
            <span class="swatch" />
            {s.name} <strong>{formatCount(s.total)}</strong>
          </span>
        ))}
      </figcaption>
    </figure>
  );
}
