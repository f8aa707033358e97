/**
 * A laid-out DAG drawn as SVG: one rounded box per step coloured by its state (running steps pulse), arrows for
 * dependencies, a click selects a step. Zoom: fit to the width, or real size with scrolling (large graphs).
 */
import { useLayoutEffect, useRef, useState } from 'preact/hooks';
import { edgePath, fittedLabel, type DagLayout } from '../dag-layout.js';
import { stateLabel, toneOf } from '../states.js';

export interface DagViewProps {
  layout: DagLayout;
  selectedId?: string | undefined;
  onSelect?: (id: string) => void;
  /** Accessible name of the drawing. */
  label: string;
}

const MIN_SCALE = 0.2;

export function DagView({ layout, selectedId, onSelect, label }: DagViewProps) {
  const box = useRef<HTMLDivElement>(null);
  const [mode, setMode] = useState<'fit' | number>('fit');
  const [boxWidth, setBoxWidth] = useState(800);
  useLayoutEffect(() => {
    const el = box.current;
    if (!el) return undefined;
    setBoxWidth(el.clientWidth);
    const observer = new ResizeObserver(() => setBoxWidth(el.clientWidth));
    observer.observe(el);
    return () => observer.disconnect();
  }, []);
  const fit = Math.max(MIN_SCALE, Math.min(1, (boxWidth - 24) / Math.max(1, layout.width)));
  const scale = mode === 'fit' ? fit : mode;
  const zoom = (factor: number) => setMode(Math.max(MIN_SCALE, Math.min(2, scale * factor)));
  return (
    <div class="dag">
      <div class="dag-tools">
        <button type="button" class="btn btn-small" onClick={() => zoom(1 / 1.25)} aria-label="Zoom out">
          −
        </button>
        <button type="button" class="btn btn-small" onClick={() => setMode('fit')}>
          Fit
        </button>
        <button type="button" class="btn btn-small" onClick={() => setMode(1)}>
          100%
        </button>
        <button type="button" class="btn btn-small" onClick={() => zoom(1.25)} aria-label="Zoom in">
          +
        </button>
      </div>
      <div class="dag-scroll" ref={box}>
        <svg
          role="img"
          aria-label={label}
          width={Math.ceil(layout.width * scale)}
          height={Math.ceil(layout.height * scale)}
          viewBox={`0 0 ${layout.width} ${layout.height}`}
        >
          <defs>
            <marker
              id="arrow"
              viewBox="0 0 8 8"
              refX="7"
              refY="4"
              markerWidth="7"
              markerHeight="7"
              orient="auto"
            >
              <path d="M0,0 L8,4 L0,8 z" class="dag-arrow" />
            </marker>
          </defs>
          <g class="dag-edges">
            {layout.edges.map((e) => (
              <path
                key={`${e.from}>${e.to}`}
                d={edgePath(e.points)}
                class="dag-edge"
                marker-end="url(#arrow)"
              />
            ))}
          </g>
          <g class="dag-nodes">
            {layout.nodes.map((n) => {
              const tone = n.state === undefined ? 'plain' : toneOf(n.state);
              const selected = n.id === selectedId;
              return (
                <g
                  key={n.id}
                  class={`dag-node tone-${tone}${selected ? ' selected' : ''}${onSelect ? ' clickable' : ''}`}
                  transform={`translate(${n.x - n.width / 2},${n.y - n.height / 2})`}
                  data-node={n.label}
                  data-state={n.state}
                  onClick={() => onSelect?.(n.id)}
                  role={onSelect ? 'button' : undefined}
                  aria-label={n.state ? `${n.label}: ${stateLabel(n.state)}` : n.label}
                >
                  <title>{n.state ? `${n.label} — ${stateLabel(n.state)}` : n.label}</title>
                  <rect width={n.width} height={n.height} rx="7" class="dag-box" />
                  <rect width="5" height={n.height} rx="2" class="dag-stripe" />
                  <text x="14" y={n.note ? 16 : n.height / 2 + 4} class="dag-label">
                    {fittedLabel(n.label)}
                  </text>
                  {n.note ? (
                    <text x="14" y="31" class="dag-note">
                      {n.note}
                    </text>
                  ) : null}
                </g>
              );
            })}
          </g>
        </svg>
      </div>
    </div>
  );
}
