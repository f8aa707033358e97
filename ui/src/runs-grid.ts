/**
 * The grid of a template's recent runs × its steps: one column per run (oldest left, newest right), one row per
 * step in topological order, each cell the state of that step in that run and a link to it.
 */
import type { TemplateRunsBody } from './api-types.js';
import { taskHref } from './router.js';
import { toneOf, type Tone } from './states.js';

export interface GridCell {
  state: string;
  tone: Tone;
  attempts: number;
  href: string;
  title: string;
}

export interface GridColumn {
  taskUuid: string;
  state: string;
  tone: Tone;
  createdAt: string;
  /** Run time in milliseconds; null while it runs. */
  durationMs: number | null;
  href: string;
}

export interface RunsGrid {
  columns: GridColumn[];
  rows: { step: string; cells: (GridCell | null)[] }[];
  /** The longest finished run, the scale of the duration bars (at least 1). */
  maxDurationMs: number;
}

/**
 * Builds the grid. `runs` arrive newest first (as the API lists them) and are shown oldest first; a step the run
 * does not have (another version of the template) is an empty cell. Steps that appear only in runs (and not in
 * `steps`) are appended, so nothing a run did is hidden.
 */
export function buildRunsGrid(body: TemplateRunsBody): RunsGrid {
  const runs = [...body.runs].reverse();
  const stepNames = [...body.steps];
  const known = new Set(stepNames);
  for (const run of runs) {
    for (const name of Object.keys(run.steps)) {
      if (!known.has(name)) {
        known.add(name);
        stepNames.push(name);
      }
    }
  }
  const columns = runs.map((run): GridColumn => {
    const durationMs = run.completed_at ? Date.parse(run.completed_at) - Date.parse(run.created_at) : null;
    return {
      taskUuid: run.task_uuid,
      state: run.state,
      tone: toneOf(run.state),
      createdAt: run.created_at,
      durationMs,
      href: taskHref(run.task_uuid),
    };
  });
  const rows = stepNames.map((step) => ({
    step,
    cells: runs.map((run): GridCell | null => {
      const cell = run.steps[step];
      if (!cell) return null;
      return {
        state: cell.state,
        tone: toneOf(cell.state),
        attempts: cell.attempts,
        href: taskHref(run.task_uuid, cell.step_uuid),
        title:
          `${step}: ${cell.state.replace(/_/g, ' ')}` +
          (cell.attempts > 1 ? ` (${cell.attempts} attempts)` : '') +
          (cell.instances !== undefined ? ` · ${cell.instances} batch instances` : ''),
      };
    }),
  }));
  const maxDurationMs = Math.max(1, ...columns.map((c) => c.durationMs ?? 0));
  return { columns, rows, maxDurationMs };
}
