/**
 * The recent runs of a template with each step's state: the rows of the dashboard's runs-by-steps grid. One SQL
 * call (`sql/functions/template_runs.sql`); batch instances (`<blueprint>_000`, ...) are summarised under their
 * blueprint's name, so every run has the template's columns.
 */
import type { Queryable } from '../db/pool.js';
import { queryRows } from '../db/query.js';
import type { StepState, TaskState } from '../state/index.js';
import { getTemplate } from './operations-templates.js';

/** One step of one run (a grid cell). */
export interface RunStepCell {
  /** The step, or for a batch blueprint the instance whose state the cell shows. */
  stepUuid: string;
  state: StepState;
  attempts: number;
  /** For a batch blueprint: how many instances the run has (the cell summarises them). */
  instances?: number;
}

/** One run of the template. */
export interface TemplateRun {
  taskUuid: string;
  state: TaskState;
  createdAt: Date;
  completedAt: Date | null;
  /** Cells by template step name; a step the run does not have (a batch not expanded yet) is absent. */
  steps: Record<string, RunStepCell>;
}

export interface TemplateRuns {
  /** The template version the runs are of (the highest when none was asked for). */
  version: string;
  /** The template's step names in topological order (batch blueprints included). */
  steps: string[];
  /** The latest runs, newest first. */
  runs: TemplateRun[];
}

/**
 * Which state a batch blueprint's cell shows: the most pressing among its instances (a failure first, then work
 * in flight, waiting, not started, and finally the finished states).
 */
const SUMMARY_ORDER: readonly StepState[] = [
  'error',
  'in_progress',
  'enqueued_as_error_for_orchestration',
  'enqueued_for_orchestration',
  'enqueued',
  'waiting_for_retry',
  'pending',
  'cancelled',
  'resolved_manually',
  'complete',
  'skipped',
];

interface StepRow {
  name: string;
  step_uuid: string;
  type: string;
  state: StepState;
  attempts: number;
}

interface RunRow {
  task_uuid: string;
  state: TaskState;
  created_at: Date;
  completed_at: Date | null;
  steps: StepRow[];
}

/** The blueprint a batch instance was made from (`process_007` of `process`), by the template's blueprints. */
function blueprintOf(name: string, blueprints: readonly string[]): string | undefined {
  return blueprints.find((b) => name.startsWith(`${b}_`) && /^\d+$/.test(name.slice(b.length + 1)));
}

/** A blueprint's cell from its instances (sorted by name). */
function summarise(instances: readonly StepRow[]): RunStepCell {
  const rank = (s: StepState) => SUMMARY_ORDER.indexOf(s);
  let shown = instances[0]!;
  for (const i of instances) if (rank(i.state) < rank(shown.state)) shown = i;
  return {
    stepUuid: shown.step_uuid,
    state: shown.state,
    attempts: Math.max(...instances.map((i) => i.attempts)),
    instances: instances.length,
  };
}

function cellsOf(rows: readonly StepRow[], blueprints: readonly string[]): Record<string, RunStepCell> {
  const cells: Record<string, RunStepCell> = {};
  const batches = new Map<string, StepRow[]>();
  for (const r of rows) {
    const blueprint = r.type === 'batch_worker' ? blueprintOf(r.name, blueprints) : undefined;
    if (blueprint === undefined) {
      cells[r.name] = { stepUuid: r.step_uuid, state: r.state, attempts: r.attempts };
    } else {
      batches.set(blueprint, [...(batches.get(blueprint) ?? []), r]);
    }
  }
  for (const [blueprint, instances] of batches) cells[blueprint] = summarise(instances);
  return cells;
}

/**
 * The latest `limit` runs (1..100) of a template version (the highest when `version` is omitted), newest first.
 * Throws TEMPLATE_NOT_FOUND for an unknown template or version.
 */
export async function templateRuns(
  db: Queryable,
  namespace: string,
  name: string,
  options: { version?: string; limit?: number } = {},
): Promise<TemplateRuns> {
  const template = await getTemplate(db, namespace, name, options.version);
  const limit = Math.min(100, Math.max(1, Math.trunc(options.limit ?? 25)));
  const steps = template.definition.steps as { name: string; type?: string }[];
  const blueprints = steps.filter((s) => s.type === 'batch_worker').map((s) => s.name);
  const rows = await queryRows<RunRow>(
    db,
    { name: 'tasker_template_runs', text: 'SELECT * FROM tasker.template_runs($1, $2)' },
    [template.templateUuid, limit],
  );
  return {
    version: template.version,
    steps: steps.map((s) => s.name),
    runs: rows.map((r) => ({
      taskUuid: r.task_uuid,
      state: r.state,
      createdAt: r.created_at,
      completedAt: r.completed_at,
      steps: cellsOf(r.steps, blueprints),
    })),
  };
}
