/**
 * A small line chart of counts per time bucket (tasks created, completed, failed), drawn as SVG with a legend,
 * a few y gridlines and start/middle/end time labels.
 */
import { niceMax } from '../chart-scale.js';

export interface Series {
  name: string;
  /** CSS class giving the colour (`series-created`, ...). */
  class: string;
  values: number[];
}

export interface SeriesChartProps {
  /** Bucket start times (ISO), one per value. */
  times: string[];
  series: Series[];
  label: string;
}

const W = 640;
const H = 180;
const PAD = { left: 36, right: 8, top: 10, bottom: 22 };

function clock(iso: string | undefined): string {
  if (!iso) return '';
  const d = new Date(iso);
  return `${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}`;
}

export function SeriesChart({ times, series, label }: SeriesChartProps) {
  const max = niceMax(Math.max(0, ...series.flatMap((s) => s.values)));
  const n = Math.max(1, times.length - 1);
  const x = (i: number) => PAD.left + (i / n) * (W - PAD.left - PAD.right);
  const y = (v: number) => H - PAD.bottom - (v / max) * (H - PAD.top - PAD.bottom);
  const grid = [0, max / 2, max];
  return (
    <figure class="chart">
      <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-label={label} preserveAspectRatio="none">
        {grid.map((g) => (
          <g key={g}>
            <line x1={PAD.left} x2={W - PAD.right} y1={y(g)} y2={y(g)} class="chart-grid" />
            <text x={PAD.left - 6} y={y(g) + 4} class="chart-tick" text-anchor="end">
              {Math.round(g)}
            </text>
          </g>
        ))}
        {series.map((s) => {
          const points = s.values.map((v, i) => `${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(' ');
          const area = `${x(0)},${y(0)} ${points} ${x(s.values.length - 1)},${y(0)}`;
          return (
            <g key={s.name} class={`chart-series ${s.class}`}>
              <polygon points={area} class="chart-area" />
              <polyline points={points} class="chart-line" />
            </g>
          );
        })}
        {[0, Math.floor(n / 2), n].map((i) => (
          <text
            key={i}
            x={x(i)}
            y={H - 6}
            class="chart-tick"
            text-anchor={i === 0 ? 'start' : i === n ? 'end' : 'middle'}
          >
            {clock(times[i])}
          </text>
        ))}
      </svg>
      <figcaption class="legend">
        {series.map((s) => (
          <span key={s.name} class={`legend-item ${s.class}`}>
            <span class="swatch" />
            {s.name} <strong>{s.values.reduce((a, b) => a + b, 0)}</strong>
          </span>
        ))}
      </figcaption>
    </figure>
  );
}
