/**
 * The task-creation part of `npm run bench` (`--only create`, and in the default run): how long creating one
 * task takes for fan-out templates of 4, 200 and 2,000 steps (start -> N-2 parallel steps -> end, so 2(N-2)
 * edges), on a fresh database. Nothing runs the tasks: only `tasker.create_task` is measured, called as
 * `POST /v1/tasks` calls it (one round trip that also returns the task view).
 *
 * "Fresh" means what a new deployment has: tables that were never analyzed. Autovacuum is switched off for the
 * step tables of the bench database so that a background ANALYZE cannot change the plans halfway through; the
 * same creates are then measured again after an explicit ANALYZE. Creation cost must not depend on which of
 * the two it is (see migrations/0016_create_task_linear.sql).
 */
import { createPool } from '../src/db/pool.js';
import { ErrorCode, TaskerError } from '../src/errors.js';
import { createTask } from '../src/orchestration/task-creator.js';
import { registerTemplate } from '../src/orchestration/template-registry.js';
import { defineTemplate, type StepDefinition, type TaskTemplate } from '../src/templates/index.js';

const ns = 'bench_create';

/** Statement timeout of the measuring connection: the engine's default (`common.database.statement_timeout_ms`). */
const STATEMENT_TIMEOUT_MS = 30_000;

export interface CreateOptions {
  quick: boolean;
  /** A fresh, migrated database; dropped by its `drop`. */
  freshDatabase: () => Promise<{ url: string; drop: () => Promise<void> }>;
}

/** Create times of one template size, in ms; `timedOut` counts creates canceled by the statement timeout. */
export interface CreateStats {
  runs: number;
  first: number;
  p50: number;
  max: number;
  mean: number;
  timedOut: number;
}

export interface CreateResult {
  steps: number;
  edges: number;
  fresh: CreateStats;
  analyzed: CreateStats;
}

/** start -> `steps - 2` parallel steps -> end. */
export function fanOutTemplate(steps: number): TaskTemplate {
  // The DSL types step names statically; the generated middle steps are copies of one built step.
  const shape = defineTemplate({ namespace: ns, name: `fan_${steps}`, version: '1.0.0' })
    .step('start', { handler: 'noop' })
    .step('middle', { handler: 'noop', dependsOn: ['start'] })
    .build();
  const [start, middle] = shape.steps as [StepDefinition, StepDefinition];
  const names = Array.from({ length: steps - 2 }, (_, i) => `w${String(i).padStart(4, '0')}`);
  return {
    ...shape,
    steps: [
      start,
      ...names.map((n) => ({ ...middle, name: n })),
      { ...middle, name: 'end', dependsOn: names },
    ],
  };
}

function summarize(samples: number[], timedOut: number): CreateStats {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (p: number): number =>
    sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))] ?? NaN;
  return {
    runs: samples.length,
    first: samples[0] ?? NaN,
    p50: at(0.5),
    max: sorted[sorted.length - 1] ?? NaN,
    mean: samples.length ? samples.reduce((a, b) => a + b, 0) / samples.length : NaN,
    timedOut,
  };
}

async function measure(steps: number, runs: number, url: string): Promise<CreateResult> {
  // One connection, so its first create plans create_task (the "first" figure) and the rest reuse the plan.
  const pool = createPool({
    url,
    maxConnections: 1,
    idleTimeoutMs: 60_000,
    acquireTimeoutMs: 10_000,
    statementTimeoutMs: STATEMENT_TIMEOUT_MS,
    applicationName: 'tasker-bench-create',
  });
  try {
    for (const table of ['template_steps', 'tasks', 'workflow_steps', 'workflow_step_edges']) {
      await pool.query(`ALTER TABLE tasker.${table} SET (autovacuum_enabled = off)`);
    }
    const template = fanOutTemplate(steps);
    await registerTemplate(pool, template);
    const round = async (label: string): Promise<CreateStats> => {
      const samples: number[] = [];
      let timedOut = 0;
      for (let i = 0; i < runs; i++) {
        const t0 = performance.now();
        try {
          await createTask(pool, { namespace: ns, name: template.name, context: { i } }, 'bench', {
            withView: true,
          });
        } catch (e) {
          if (!(e instanceof TaskerError && e.code === ErrorCode.DatabaseTimeout)) throw e;
          timedOut += 1;
        }
        samples.push(performance.now() - t0);
      }
      const s = summarize(samples, timedOut);
      console.log(
        `[create ${steps} steps, ${label}] first ${s.first.toFixed(1)} ms  p50 ${s.p50.toFixed(1)} ms  max ${s.max.toFixed(1)} ms` +
          (timedOut ? `  (${timedOut} timed out)` : ''),
      );
      return s;
    };
    const fresh = await round('fresh database');
    // ANALYZE invalidates the connection's cached plan, so the next create plans again with statistics.
    await pool.query('ANALYZE');
    const analyzed = await round('after ANALYZE');
    return { steps, edges: 2 * (steps - 2), fresh, analyzed };
  } finally {
    await pool.end();
  }
}

/** Creates tasks of each template size on a database of its own. */
export async function runCreate(options: CreateOptions): Promise<CreateResult[]> {
  const results: CreateResult[] = [];
  for (const [steps, runs] of [
    [4, options.quick ? 20 : 100],
    [200, options.quick ? 10 : 30],
    [2000, options.quick ? 3 : 10],
  ] as const) {
    const db = await options.freshDatabase();
    try {
      results.push(await measure(steps, runs, db.url));
    } finally {
      await db.drop();
    }
  }
  return results;
}

/** The BENCHMARKS.md table of {@link runCreate}'s results. */
export function createMarkdown(results: CreateResult[]): string[] {
  const f = (n: number): string => `${n.toFixed(1)} ms`;
  const t = (s: CreateStats): string => (s.timedOut ? ` (${s.timedOut} of ${s.runs} timed out)` : '');
  return [
    '| fan-out template | steps | edges | database | runs | first create | p50 | max | mean |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...results.flatMap((r) =>
      (
        [
          ['fresh (never analyzed)', r.fresh],
          ['after ANALYZE', r.analyzed],
        ] as const
      ).map(
        ([label, s]) =>
          `| 1 -> ${r.steps - 2} -> 1 | ${r.steps} | ${r.edges} | ${label} | ${s.runs} | ${f(s.first)} | ${f(s.p50)} | ${f(s.max)}${t(s)} | ${f(s.mean)} |`,
      ),
    ),
  ];
}
