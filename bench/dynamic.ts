/**
 * The dynamic-workflow part of `npm run bench` (issue 5): a conditional workflow (a decision step and a deferred
 * convergence step) and a 1,000-row batch (a batchable step, batch workers with optional checkpoints, a
 * convergence step). Run by bench/run.ts (`--only dynamic`, and in the default run) with its engine setup: an
 * orchestrator and a worker in this process, on a fresh database per path.
 *
 * Measured per path (the default path and the fast path `worker.resolve_in_completion`):
 *
 * - *conditional approval*: validate → route (decision) → auto_approve | manager_approval | finance_review →
 *   finalize (deferred convergence). End-to-end latency (task created → task complete, seen by this process)
 *   one task at a time, the amounts cycling through the three routes, overall and per route; then throughput
 *   with many tasks submitted at once, with their latencies read from the database (`created_at` →
 *   `completed_at`).
 * - *1,000-row batch*: analyze (batchable: 1,000 in-memory rows) → process_rows (batch worker, one instance per
 *   batch, summing one number per row, optionally checkpointing every N rows) → aggregate (deferred
 *   convergence, checks that every row was counted). Variants: batch size 200 (5 batches) and 100 (10 batches),
 *   each with and without checkpoints. Rows/s end to end, one task at a time and for several tasks at once.
 */
import pg from 'pg';
import { loadConfig, type DeepPartial, type TaskerConfig } from '../src/config/index.js';
import { PermanentError } from '../src/errors.js';
import type { Orchestrator } from '../src/orchestration/orchestrator.js';
import { defineTemplate, type TaskTemplate } from '../src/templates/index.js';
import { batchResults, batches, decide } from '../src/worker/dynamic.js';
import { defineHandler, type HandlerDefinition } from '../src/worker/handler.js';
import type { Worker } from '../src/worker/worker.js';

const ns = 'bench_dynamic';

/** What the engine runs: templates, handlers, and the steps whose completion ends a task (fast-path counting). */
export interface Workload {
  templates: TaskTemplate[];
  handlers: HandlerDefinition[];
  /** Every task ends with one of these steps (they always run: deferred convergence). */
  lastSteps: readonly string[];
}

/** The in-process engine of bench/run.ts. */
export interface DynamicEngine {
  orchestrator: Orchestrator;
  worker: Worker;
  /** Tasks finished so far (counted as bench/run.ts does for the path). */
  finalized: () => number;
  waitFinalized: (n: number) => Promise<void>;
}

export interface DynamicOptions {
  quick: boolean;
  /** A fresh, migrated database; dropped by its `drop`. */
  freshDatabase: () => Promise<{ url: string; drop: () => Promise<void> }>;
  /** Configuration overrides on top of the `production` environment (those of the main bench). */
  overrides: DeepPartial<TaskerConfig>;
  startEngine: (config: TaskerConfig, fastPath: boolean, workload: Workload) => Promise<DynamicEngine>;
}

// ---- conditional approval ----

const approval = defineTemplate({ namespace: ns, name: 'conditional_approval', version: '1.0.0' })
  .step('validate_request', { handler: 'bench_dyn.validate' })
  .step('route_by_amount', { handler: 'bench_dyn.route', type: 'decision', dependsOn: ['validate_request'] })
  .step('auto_approve', { handler: 'bench_dyn.approve', dependsOn: ['route_by_amount'] })
  .step('manager_approval', { handler: 'bench_dyn.approve', dependsOn: ['route_by_amount'] })
  .step('finance_review', { handler: 'bench_dyn.approve', dependsOn: ['route_by_amount'] })
  .step('finalize_approval', {
    handler: 'bench_dyn.finalize',
    type: 'deferred_convergence',
    dependsOn: ['auto_approve', 'manager_approval', 'finance_review'],
  })
  .build();

/** The three routes, by the amount that selects each, and the steps each runs (the others are skipped). */
const ROUTES = [
  { route: 'auto', amount: 250, stepsRun: 4 },
  { route: 'manager', amount: 2500, stepsRun: 4 },
  { route: 'manager+finance', amount: 25_000, stepsRun: 5 },
] as const;
type Route = (typeof ROUTES)[number]['route'];

/** A baseline in the same run: four steps in a row, no decision, nothing skipped. */
const linear = defineTemplate({ namespace: ns, name: 'linear4', version: '1.0.0' })
  .step('s1', { handler: 'bench_dyn.approve' })
  .step('s2', { handler: 'bench_dyn.approve', dependsOn: ['s1'] })
  .step('s3', { handler: 'bench_dyn.approve', dependsOn: ['s2'] })
  .step('s4', { handler: 'bench_dyn.approve', dependsOn: ['s3'] })
  .build();

// ---- 1,000-row batch ----

const csv = defineTemplate({ namespace: ns, name: 'csv_batch', version: '1.0.0' })
  .step('analyze_csv', { handler: 'bench_dyn.csv_analyze', type: 'batchable' })
  .step('process_rows', {
    handler: 'bench_dyn.csv_process',
    type: 'batch_worker',
    dependsOn: ['analyze_csv'],
    batch: { batchSize: 200, failureStrategy: 'fail_fast' },
  })
  .step('aggregate_results', {
    handler: 'bench_dyn.csv_aggregate',
    type: 'deferred_convergence',
    dependsOn: ['process_rows'],
  })
  .build();

/** The "CSV": 1,000 rows in memory, so the figures are the engine's, not a file parser's. */
const ROWS = Array.from({ length: 1000 }, (_, i) => ({ id: i, amount: (i % 97) + 0.25 }));
const ROWS_TOTAL = ROWS.reduce((s, r) => s + r.amount, 0);

interface BatchVariant {
  batchSize: number;
  /** Checkpoint every this many rows (not after a batch's last row: its result supersedes it); 0 = never. */
  checkpointEvery: number;
}
const VARIANTS: readonly BatchVariant[] = [
  { batchSize: 200, checkpointEvery: 100 },
  { batchSize: 200, checkpointEvery: 0 },
  { batchSize: 100, checkpointEvery: 50 },
  { batchSize: 100, checkpointEvery: 0 },
];

/** How long each `ctx.checkpoint` call took as the handler saw it (ms), for the current variant. */
let checkpointMs: number[] = [];

const handlers: HandlerDefinition[] = [
  defineHandler('bench_dyn.validate', (ctx) => ({ amount: ctx.context.amount })),
  defineHandler('bench_dyn.route', (ctx) => {
    const { amount } = ctx.dependencyResults.validate_request as { amount: number };
    if (amount < 1000) return decide(['auto_approve']);
    if (amount < 5000) return decide(['manager_approval']);
    return decide(['manager_approval', 'finance_review']);
  }),
  defineHandler('bench_dyn.approve', (ctx) => ({ approved: true, by: ctx.stepName })),
  defineHandler('bench_dyn.finalize', (ctx) => ({ approvals: Object.keys(ctx.dependencyResults).length })),
  defineHandler('bench_dyn.csv_analyze', (ctx) =>
    batches({ totalItems: ROWS.length, batchSize: Number(ctx.context.batch_size) }),
  ),
  defineHandler('bench_dyn.csv_process', async (ctx) => {
    const batch = ctx.batch;
    if (!batch) throw new PermanentError('bench_dyn.csv_process runs as a batch worker');
    const every = Number(ctx.context.checkpoint_every);
    let sum = (batch.checkpoint?.sum as number | undefined) ?? 0;
    for (let i = batch.resumeFrom; i < batch.end; i += 1) {
      sum += ROWS[i]!.amount;
      const next = i + 1;
      if (every > 0 && (next - batch.start) % every === 0 && next < batch.end) {
        const t0 = performance.now();
        await ctx.checkpoint({ cursor: next, sum });
        checkpointMs.push(performance.now() - t0);
      }
    }
    return { rows: batch.end - batch.start, sum };
  }),
  defineHandler('bench_dyn.csv_aggregate', (ctx) => {
    const results = batchResults<{ rows: number; sum: number }>(ctx, 'process_rows');
    const rows = results.reduce((n, r) => n + (r.result?.rows ?? 0), 0);
    const total = results.reduce((n, r) => n + (r.result?.sum ?? 0), 0);
    // Every row counted exactly once, or the task fails and the bench with it.
    if (rows !== ROWS.length || Math.abs(total - ROWS_TOTAL) > 1e-6) {
      throw new PermanentError(
        `aggregated ${rows} rows summing to ${total}; expected ${ROWS.length}, ${ROWS_TOTAL}`,
      );
    }
    return { batches: results.length, rows, total };
  }),
];

/** The templates and handlers of this part, for bench/run.ts's engine. */
export const dynamicWorkload: Workload = {
  templates: [approval, csv, linear],
  handlers,
  lastSteps: ['finalize_approval', 'aggregate_results', 's4'],
};

// ---- measurement ----

export interface Stats {
  runs: number;
  p50: number;
  p95: number;
  p99: number;
  mean: number;
}

function percentile(sorted: readonly number[], p: number): number {
  const idx = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[idx]!;
}

function stats(samples: readonly number[]): Stats {
  const sorted = [...samples].sort((a, b) => a - b);
  return {
    runs: sorted.length,
    p50: percentile(sorted, 50),
    p95: percentile(sorted, 95),
    p99: percentile(sorted, 99),
    mean: sorted.reduce((a, b) => a + b, 0) / sorted.length,
  };
}

export interface ConditionalResult {
  path: string;
  /** One task at a time: all routes, then per route. */
  sequential: { all: Stats; perRoute: { route: Route; stats: Stats }[] };
  /** linear-4 one task at a time on the same engine, interleaved with the approval tasks (the baseline). */
  baseline: Stats;
  throughput: {
    tasks: number;
    seconds: number;
    tasksPerSec: number;
    /** Steps that ran (skipped branches not counted). */
    stepsRun: number;
    stepsPerSec: number;
    /** Task latency from the database, all submitted at once (the routes interleave, so one figure for all). */
    latency: Stats;
  };
}

export interface BatchRun {
  path: string;
  variant: BatchVariant;
  batches: number;
  checkpointsPerTask: number;
  /** `ctx.checkpoint` as the handler saw it (one task at a time, then several at once); undefined without. */
  checkpointCall?: { single: Stats; concurrent: { tasks: number; stats: Stats }[] };
  /** One task at a time: durations (ms) and rows/s of the mean. */
  single: Stats & { rowsPerSecAtP50: number; rowsPerSecMean: number };
  /** Several tasks at once, per level of concurrency. */
  concurrent: { tasks: number; seconds: number; rowsPerSec: number; latency: Stats }[];
}

export interface DynamicResults {
  conditional: ConditionalResult[];
  batch: BatchRun[];
}

/** Waits for `target` finished tasks, failing (with the database's view) rather than hanging. */
async function waitTasks(engine: DynamicEngine, target: number, url: string): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    await Promise.race([
      engine.waitFinalized(target),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          void taskStates(url).then((s) =>
            reject(new Error(`timed out waiting for ${target} finished tasks; tasks by state: ${s}`)),
          );
        }, 120_000);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

async function withClient<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: url, application_name: 'tasker-bench-dynamic' });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

async function taskStates(url: string): Promise<string> {
  return withClient(url, async (c) => {
    const r = await c.query<{ state: string; n: number }>(
      'SELECT state, count(*)::int AS n FROM tasker.tasks GROUP BY state ORDER BY state',
    );
    return JSON.stringify(Object.fromEntries(r.rows.map((x) => [x.state, x.n])));
  });
}

interface TaskRow {
  task_uuid: string;
  state: string;
  ms: number;
  steps_run: number;
}

/** Durations (`created_at` → `completed_at`) and steps run of the given tasks; fails unless all are complete. */
async function taskRows(url: string, uuids: readonly string[]): Promise<TaskRow[]> {
  const rows = await withClient(url, async (c) => {
    const r = await c.query<TaskRow>(
      `SELECT t.task_uuid, t.state,
              (extract(epoch FROM t.completed_at - t.created_at) * 1000)::float8 AS ms,
              (SELECT count(*)::int FROM tasker.workflow_steps s WHERE s.task_uuid = t.task_uuid AND s.state = 'complete') AS steps_run
       FROM tasker.tasks t WHERE t.task_uuid = ANY($1::uuid[])`,
      [uuids],
    );
    return r.rows;
  });
  const notComplete = rows.filter((r) => r.state !== 'complete');
  if (rows.length !== uuids.length || notComplete.length > 0) {
    throw new Error(
      `expected ${uuids.length} complete tasks, found ${rows.length - notComplete.length} of ${rows.length}`,
    );
  }
  return rows;
}

/** A tag making every task's context (and so its identity) unique across runs on one database. */
const runTag = `${Date.now().toString(36)}`;
let seq = 0;

async function conditional(
  engine: DynamicEngine,
  url: string,
  path: string,
  quick: boolean,
): Promise<ConditionalResult> {
  const warmup = quick ? 3 : 9;
  const perRouteRuns = quick ? 5 : 50;
  const throughputTasks = quick ? 150 : 1500;
  const samples: { route: Route; ms: number }[] = [];
  const baseline: number[] = [];
  const one = async (name: string, context: Record<string, unknown>): Promise<number> => {
    const target = engine.finalized() + 1;
    const t0 = performance.now();
    await engine.orchestrator.createTask({
      namespace: ns,
      name,
      context: { ...context, run: runTag, i: seq++ },
    });
    await waitTasks(engine, target, url);
    return performance.now() - t0;
  };
  for (let i = 0; i < warmup + perRouteRuns * ROUTES.length; i++) {
    const r = ROUTES[i % ROUTES.length]!;
    const ms = await one('conditional_approval', { amount: r.amount, route: r.route });
    if (i >= warmup) samples.push({ route: r.route, ms });
    // A linear-4 task after each full cycle of routes, so baseline and approvals share the same conditions.
    if (i % ROUTES.length === ROUTES.length - 1) {
      const b = await one('linear4', {});
      if (i >= warmup) baseline.push(b);
    }
  }
  const perRoute = ROUTES.map((r) => ({
    route: r.route,
    stats: stats(samples.filter((s) => s.route === r.route).map((s) => s.ms)),
  }));

  const target = engine.finalized() + throughputTasks;
  const t0 = performance.now();
  const created = await Promise.all(
    Array.from({ length: throughputTasks }, (_, i) => {
      const r = ROUTES[i % ROUTES.length]!;
      return engine.orchestrator.createTask({
        namespace: ns,
        name: 'conditional_approval',
        context: { amount: r.amount, route: r.route, run: runTag, i: seq++ },
      });
    }),
  );
  await waitTasks(engine, target, url);
  const seconds = (performance.now() - t0) / 1000;
  const rows = await taskRows(
    url,
    created.map((c) => c.taskUuid),
  );
  const stepsRun = rows.reduce((n, r) => n + r.steps_run, 0);
  const expectedSteps = Array.from(
    { length: throughputTasks },
    (_, i) => ROUTES[i % ROUTES.length]!.stepsRun,
  ).reduce((a, b) => a + b, 0);
  if (stepsRun !== expectedSteps) {
    throw new Error(`expected ${expectedSteps} steps to run, counted ${stepsRun}`);
  }
  return {
    path,
    sequential: { all: stats(samples.map((s) => s.ms)), perRoute },
    baseline: stats(baseline),
    throughput: {
      tasks: throughputTasks,
      seconds,
      tasksPerSec: throughputTasks / seconds,
      stepsRun,
      stepsPerSec: stepsRun / seconds,
      latency: stats(rows.map((r) => r.ms)),
    },
  };
}

async function batch(
  engine: DynamicEngine,
  url: string,
  path: string,
  variant: BatchVariant,
  quick: boolean,
): Promise<BatchRun> {
  const warmup = quick ? 1 : 3;
  const runs = quick ? 3 : 20;
  const levels = quick ? [4] : [10, 50];
  const context = (): Record<string, unknown> => ({
    batch_size: variant.batchSize,
    checkpoint_every: variant.checkpointEvery,
    run: runTag,
    i: seq++,
  });
  const singles: number[] = [];
  const singleUuids: string[] = [];
  for (let i = 0; i < warmup + runs; i++) {
    if (i === warmup) checkpointMs = [];
    const target = engine.finalized() + 1;
    const t0 = performance.now();
    const t = await engine.orchestrator.createTask({ namespace: ns, name: 'csv_batch', context: context() });
    await waitTasks(engine, target, url);
    if (i >= warmup) {
      singles.push(performance.now() - t0);
      singleUuids.push(t.taskUuid);
    }
  }
  const singleCheckpoints = checkpointMs;
  await taskRows(url, singleUuids); // all complete, every row counted (the aggregate step checks)

  const concurrent: BatchRun['concurrent'] = [];
  const concurrentCheckpoints: { tasks: number; stats: Stats }[] = [];
  for (const tasks of levels) {
    checkpointMs = [];
    const target = engine.finalized() + tasks;
    const t0 = performance.now();
    const created = await Promise.all(
      Array.from({ length: tasks }, () =>
        engine.orchestrator.createTask({ namespace: ns, name: 'csv_batch', context: context() }),
      ),
    );
    await waitTasks(engine, target, url);
    const seconds = (performance.now() - t0) / 1000;
    const rows = await taskRows(
      url,
      created.map((c) => c.taskUuid),
    );
    concurrent.push({
      tasks,
      seconds,
      rowsPerSec: (tasks * ROWS.length) / seconds,
      latency: stats(rows.map((r) => r.ms)),
    });
    if (checkpointMs.length > 0) concurrentCheckpoints.push({ tasks, stats: stats(checkpointMs) });
  }
  const batchCount = Math.ceil(ROWS.length / variant.batchSize);
  const perBatch =
    variant.checkpointEvery > 0 ? Math.ceil(variant.batchSize / variant.checkpointEvery) - 1 : 0;
  const single = stats(singles);
  return {
    path,
    variant,
    batches: batchCount,
    checkpointsPerTask: perBatch * batchCount,
    ...(singleCheckpoints.length > 0
      ? { checkpointCall: { single: stats(singleCheckpoints), concurrent: concurrentCheckpoints } }
      : {}),
    single: {
      ...single,
      rowsPerSecAtP50: ROWS.length / (single.p50 / 1000),
      rowsPerSecMean: ROWS.length / (single.mean / 1000),
    },
    concurrent,
  };
}

function variantLabel(v: BatchVariant): string {
  return `batch size ${v.batchSize}, ${v.checkpointEvery > 0 ? `checkpoint every ${v.checkpointEvery} rows` : 'no checkpoints'}`;
}

/** Runs the conditional workflow and the batch variants on each path, printing a line per measurement. */
export async function runDynamic(options: DynamicOptions): Promise<DynamicResults> {
  const results: DynamicResults = { conditional: [], batch: [] };
  for (const [path, fastPath] of [
    ['1 transaction per step (default)', true],
    ['4 transactions per step (`worker.resolve_in_completion = false`)', false],
  ] as const) {
    const db = await options.freshDatabase();
    try {
      const config = loadConfig({
        environment: 'production',
        env: { DATABASE_URL: db.url },
        overrides: {
          ...options.overrides,
          worker: { ...options.overrides.worker, resolve_in_completion: fastPath },
        },
      });
      const engine = await options.startEngine(config, fastPath, dynamicWorkload);
      try {
        const c = await conditional(engine, db.url, path, options.quick);
        const ms = (s: Stats): string => `p50 ${s.p50.toFixed(2)} ms p95 ${s.p95.toFixed(2)} ms`;
        console.log(
          `[dynamic: ${path}] conditional approval, one at a time: ${ms(c.sequential.all)} ` +
            `(${c.sequential.perRoute.map((r) => `${r.route}: ${ms(r.stats)}`).join('; ')}); linear-4 baseline ${ms(c.baseline)}`,
        );
        console.log(
          `[dynamic: ${path}] conditional approval, ${c.throughput.tasks} at once: ${c.throughput.seconds.toFixed(2)} s, ` +
            `${c.throughput.tasksPerSec.toFixed(0)} tasks/s, ${c.throughput.stepsPerSec.toFixed(0)} steps/s, latency ${ms(c.throughput.latency)}`,
        );
        results.conditional.push(c);
        for (const v of VARIANTS) {
          const b = await batch(engine, db.url, path, v, options.quick);
          console.log(
            `[dynamic: ${path}] 1,000-row batch (${variantLabel(v)}): one at a time ${ms(b.single)}, ` +
              `${b.single.rowsPerSecAtP50.toFixed(0)} rows/s at p50` +
              b.concurrent
                .map(
                  (c) =>
                    `; ${c.tasks} at once ${c.seconds.toFixed(2)} s, ${c.rowsPerSec.toFixed(0)} rows/s, latency ${ms(c.latency)}`,
                )
                .join('') +
              (b.checkpointCall
                ? `; ctx.checkpoint ${ms(b.checkpointCall.single)} (one task)` +
                  b.checkpointCall.concurrent.map((c) => `, ${ms(c.stats)} (${c.tasks} tasks)`).join('')
                : ''),
          );
          results.batch.push(b);
        }
      } finally {
        await engine.worker.stop();
        await engine.orchestrator.stop();
      }
    } finally {
      await db.drop();
    }
  }
  return results;
}

/** The results as markdown tables (the body of the dynamic section of BENCHMARKS.md). */
export function dynamicMarkdown(r: DynamicResults): string[] {
  const f = (n: number): string => `${n.toFixed(2)} ms`;
  return [
    '| conditional approval | path | route | runs | p50 | p95 | p99 | mean |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
    ...r.conditional.flatMap((c) => [
      `| linear-4 baseline (no decision), one task at a time | ${c.path} | - | ${c.baseline.runs} | ${f(c.baseline.p50)} | ${f(c.baseline.p95)} | ${f(c.baseline.p99)} | ${f(c.baseline.mean)} |`,
      ...[{ route: 'all (cycling)', stats: c.sequential.all }, ...c.sequential.perRoute].map(
        (x) =>
          `| one task at a time | ${c.path} | ${x.route} | ${x.stats.runs} | ${f(x.stats.p50)} | ${f(x.stats.p95)} | ${f(x.stats.p99)} | ${f(x.stats.mean)} |`,
      ),
      `| ${c.throughput.tasks} submitted at once (latency from the database) | ${c.path} | all (cycling) | ${c.throughput.latency.runs} | ${f(c.throughput.latency.p50)} | ${f(c.throughput.latency.p95)} | ${f(c.throughput.latency.p99)} | ${f(c.throughput.latency.mean)} |`,
    ]),
    '',
    '| conditional approval throughput | path | tasks | steps run | wall time | tasks/s | steps/s |',
    '| --- | --- | --- | --- | --- | --- | --- |',
    ...r.conditional.map(
      (c) =>
        `| all submitted at once, routes cycling | ${c.path} | ${c.throughput.tasks} | ${c.throughput.stepsRun} | ${c.throughput.seconds.toFixed(2)} s | ${c.throughput.tasksPerSec.toFixed(0)} | ${c.throughput.stepsPerSec.toFixed(0)} |`,
    ),
    '',
    '| 1,000-row batch | path | batches | checkpoints per task | runs | p50 | p95 | mean | rows/s at p50 | rows/s (mean) |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...r.batch.map(
      (b) =>
        `| one task at a time, ${variantLabel(b.variant)} | ${b.path} | ${b.batches} | ${b.checkpointsPerTask} | ${b.single.runs} | ${f(b.single.p50)} | ${f(b.single.p95)} | ${f(b.single.mean)} | ${b.single.rowsPerSecAtP50.toFixed(0)} | ${b.single.rowsPerSecMean.toFixed(0)} |`,
    ),
    '',
    '| 1,000-row batch, tasks at once | path | tasks (rows) | wall time | rows/s | task p50 | p95 |',
    '| --- | --- | --- | --- | --- | --- | --- |',
    ...r.batch.flatMap((b) =>
      b.concurrent.map(
        (c) =>
          `| ${variantLabel(b.variant)} | ${b.path} | ${c.tasks} (${c.tasks * ROWS.length}) | ${c.seconds.toFixed(2)} s | ${c.rowsPerSec.toFixed(0)} | ${f(c.latency.p50)} | ${f(c.latency.p95)} |`,
      ),
    ),
    '',
    '| `ctx.checkpoint` call, as the handler sees it | path | calls | p50 | p95 | p99 | mean |',
    '| --- | --- | --- | --- | --- | --- | --- |',
    ...r.batch.flatMap((b) =>
      b.checkpointCall
        ? [
            [`${variantLabel(b.variant)}, one task at a time`, b.checkpointCall.single] as const,
            ...b.checkpointCall.concurrent.map(
              (c) => [`${variantLabel(b.variant)}, ${c.tasks} tasks at once`, c.stats] as const,
            ),
          ].map(
            ([label, st]) =>
              `| ${label} | ${b.path} | ${st.runs} | ${f(st.p50)} | ${f(st.p95)} | ${f(st.p99)} | ${f(st.mean)} |`,
          )
        : [],
    ),
  ];
}
