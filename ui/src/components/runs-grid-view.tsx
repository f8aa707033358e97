/**
 * The runs × steps grid of a template (as in Airflow's grid view): a column per recent run topped by a bar as
 * tall as the run took and coloured by its state, a row per step, each cell that step's state in that run and a
 * link straight to it.
 */
import { formatDuration, formatTime, shortId } from '../format.js';
import type { RunsGrid } from '../runs-grid.js';

export function RunsGridView({ grid }: { grid: RunsGrid }) {
  if (grid.columns.length === 0) return <p class="muted">No run of this template yet.</p>;
  return (
    <div class="runs-grid-scroll">
      <table class="runs-grid" data-testid="runs-grid">
        <thead>
          <tr>
            <th class="runs-grid-step" />
            {grid.columns.map((c) => (
              <th key={c.taskUuid} class="runs-grid-run">
                <a
                  href={c.href}
                  class="run-bar-box"
                  title={`${shortId(c.taskUuid)} · ${c.state.replace(/_/g, ' ')} · ${formatTime(c.createdAt)}${
                    c.durationMs !== null ? ` · ${formatDuration(c.durationMs)}` : ' · running'
                  }`}
                >
                  <span
                    class={`run-bar tone-${c.tone}`}
                    style={{
                      height: `${c.durationMs === null ? 100 : Math.max(8, (c.durationMs / grid.maxDurationMs) * 100)}%`,
                    }}
                  />
                </a>
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {grid.rows.map((row) => (
            <tr key={row.step}>
              <th class="runs-grid-step" title={row.step}>
                {row.step}
              </th>
              {row.cells.map((cell, i) => (
                <td key={grid.columns[i]?.taskUuid ?? i}>
                  {cell ? (
                    <a
                      href={cell.href}
                      class={`cell tone-${cell.tone}`}
                      title={cell.title}
                      data-step={row.step}
                      data-state={cell.state}
                      aria-label={cell.title}
                    />
                  ) : (
                    <span class="cell cell-empty" />
                  )}
                </td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
