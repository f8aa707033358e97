/**
 * `npm run bench`: latency and throughput of the engine on this machine. Not part of `npm test`.
 *
 * Uses DATABASE_URL when set (a database `tasker_bench_<time>` is created on that server and dropped after),
 * else an embedded PostgreSQL. Orchestrator and worker run in this process, as `tasker dev` does.
 * Results are printed and written to BENCHMARKS.md between the generated-results markers.
 *
 *   npm run bench                 # full run
 *   npm run bench -- --quick      # fewer iterations, for a smoke test
 *   npm run bench -- --only burst # only the 10x burst (bench/burst.ts); `--only main` skips it, dynamic and create
 *   npm run bench -- --only dynamic # only the conditional workflow and the 1,000-row batch (bench/dynamic.ts)
 *   npm run bench -- --only create  # only task creation for 4-, 200- and 2,000-step templates (bench/create.ts)
 *   npm run bench -- --only peers   # W1-W4 side by side with graphile-worker (bench/peers/run-peers.ts)
 *   npm run bench -- --only scale   # per-step cost with 10k, 100k and 1M finished tasks (bench/peers/scale.ts)
 *   npm run bench -- --only processes # throughput with 1, 2 and 4 worker processes (bench/peers/processes.ts)
 */
import { readFile, writeFile } from 'node:fs/promises';
import { cpus, totalmem } from 'node:os';
import pg from 'pg';
import pino, { type Logger } from 'pino';
import { loadConfig, type DeepPartial, type TaskerConfig } from '../src/config/index.js';
import { migrate } from '../src/db/migrate.js';
import { createPool } from '../src/db/pool.js';
import { createOrchestrator, type Orchestrator } from '../src/orchestration/orchestrator.js';
import { defineTemplate } from '../src/templates/index.js';
import { startEmbeddedPostgres, type EmbeddedServer } from '../src/testing/embedded-postgres.js';
import { defineHandler } from '../src/worker/handler.js';
import { createWorker, type Worker } from '../src/worker/worker.js';
import { burstMarkdown, runBurst } from './burst.js';
import { createMarkdown, runCreate } from './create.js';
import { dynamicMarkdown, runDynamic, type Workload } from './dynamic.js';
import { processesMarkdown, runProcesses } from './peers/processes.js';
import { peersMarkdown, runPeers } from './peers/run-peers.js';
import { runScale, scaleMarkdown } from './peers/scale.js';

const quick = process.argv.includes('--quick');
/** --profile: load pg_stat_statements (embedded server only) and print the costliest statements per mode. */
const profile = process.argv.includes('--profile');
const LATENCY_RUNS = quick ? 10 : 50;
const WARMUP_RUNS = quick ? 3 : 10;
const THROUGHPUT_TASKS = quick ? 200 : 2000;
type Part = 'main' | 'burst' | 'dynamic' | 'create' | 'peers' | 'scale' | 'processes';
const PARTS: readonly Part[] = ['main', 'burst', 'dynamic', 'create', 'peers', 'scale', 'processes'];
/** --only <part> (or --only=<part>): run one part; all but peers, scale and processes when absent. */
const only = ((): Part | undefined => {
  const i = process.argv.findIndex((a) => a === '--only' || a.startsWith('--only='));
  if (i < 0) return undefined;
  const arg = process.argv[i]!;
  const value = arg.includes('=') ? arg.slice('--only='.length) : process.argv[i + 1];
  if (!PARTS.includes(value as Part)) {
    throw new Error(`--only takes ${PARTS.map((p) => `'${p}'`).join(', ')}, not '${value}'`);
  }
  return value as Part;
})();
/** The 10x burst: ten times the throughput run's task count. */
const BURST_TASKS = quick ? 2000 : 20_000;

const ns = 'bench';
const linear = defineTemplate({ namespace: ns, name: 'linear', version: '1.0.0' })
  .step('s1', { handler: 'noop' })
  .step('s2', { handler: 'noop', dependsOn: ['s1'] })
  .step('s3', { handler: 'noop', dependsOn: ['s2'] })
  .step('s4', { handler: 'noop', dependsOn: ['s3'] })
  .build();
const diamond = defineTemplate({ namespace: ns, name: 'diamond', version: '1.0.0' })
  .step('top', { handler: 'noop' })
  .step('left', { handler: 'noop', dependsOn: ['top'] })
  .step('right', { handler: 'noop', dependsOn: ['top'] })
  .step('bottom', { handler: 'noop', dependsOn: ['left', 'right'] })
  .build();
const handlers = [defineHandler('noop', () => ({ ok: true }))];
const mainWorkload: Workload = { templates: [linear, diamond], handlers, lastSteps: ['s4', 'bottom'] };

function percentile(sorted: number[], p: number): number {
  const idx = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[idx]!;
}

interface Engine {
  orchestrator: Orchestrator;
  worker: Worker;
  finalized: () => number;
  waitFinalized: (n: number) => Promise<void>;
}

/**
 * Orchestrator + worker in this process. Task completions are counted from the database side that finalizes
 * them: orchestrator result batches on the default path; on the fast path the worker finalizes tasks, so a
 * light LISTEN on task completion would be needed there; instead we count finished last steps.
 */
async function startEngine(
  config: TaskerConfig,
  fastPath: boolean,
  logger?: Logger,
  workload: Workload = mainWorkload,
): Promise<Engine> {
  let waiter: { target: number; resolve: () => void } | undefined;
  let finalized = 0;
  const bump = (n: number): void => {
    finalized = n;
    if (waiter && finalized >= waiter.target) {
      const w = waiter;
      waiter = undefined;
      w.resolve();
    }
  };
  const orchestrator = createOrchestrator({
    ...(logger ? { logger } : {}),
    config,
    onResultBatch: (s) => {
      if (!fastPath) bump(s.tasksFinalized);
    },
  });
  for (const t of workload.templates) await orchestrator.registerTemplate(t);
  let lastSteps = 0;
  const worker = createWorker({
    ...(logger ? { logger } : {}),
    config,
    templates: workload.templates,
    handlers: workload.handlers,
    // On the fast path the task is finalized in the same transaction that stored its last step's outcome,
    // and this callback runs after that transaction committed.
    onStepFinished: (e) => {
      if (fastPath && workload.lastSteps.includes(e.stepName)) bump(++lastSteps);
    },
  });
  await orchestrator.start();
  await worker.start();
  return {
    orchestrator,
    worker,
    finalized: () => finalized,
    waitFinalized: (target) =>
      finalized >= target
        ? Promise.resolve()
        : new Promise<void>((resolve) => (waiter = { target, resolve })),
  };
}

async function latency(
  engine: Engine,
  name: string,
): Promise<{ p50: number; p95: number; p99: number; mean: number }> {
  const samples: number[] = [];
  for (let i = 0; i < WARMUP_RUNS + LATENCY_RUNS; i++) {
    const target = engine.finalized() + 1;
    const t0 = performance.now();
    await engine.orchestrator.createTask({ namespace: ns, name, context: { i } });
    await engine.waitFinalized(target);
    if (i >= WARMUP_RUNS) samples.push(performance.now() - t0);
  }
  samples.sort((a, b) => a - b);
  return {
    p50: percentile(samples, 50),
    p95: percentile(samples, 95),
    p99: percentile(samples, 99),
    mean: samples.reduce((a, b) => a + b, 0) / samples.length,
  };
}

async function throughput(
  engine: Engine,
  tasks: number,
): Promise<{ seconds: number; tasksPerSec: number; stepsPerSec: number }> {
  const target = engine.finalized() + tasks;
  const t0 = performance.now();
  const creates: Promise<unknown>[] = [];
  for (let i = 0; i < tasks; i++) {
    creates.push(engine.orchestrator.createTask({ namespace: ns, name: 'linear', context: { i } }));
  }
  await Promise.all(creates);
  await engine.waitFinalized(target);
  const seconds = (performance.now() - t0) / 1000;
  return { seconds, tasksPerSec: tasks / seconds, stepsPerSec: (tasks * 4) / seconds };
}

async function printTopStatements(url: string): Promise<void> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  await c.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
  const top = await c.query<{ calls: string; mean: number; total: number; rows: string; query: string }>(
    `SELECT calls, rows, round(mean_exec_time::numeric, 4)::float8 AS mean, round(total_exec_time::numeric, 1)::float8 AS total,
            regexp_replace(left(query, 100), '\\s+', ' ', 'g') AS query
     FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
     ORDER BY total_exec_time DESC LIMIT 30`,
  );
  for (const r of top.rows) {
    console.log(
      `${String(r.total).padStart(9)} ms ${String(r.calls).padStart(7)}x ${String(r.rows).padStart(7)}r ${String(r.mean).padStart(8)} ms  ${r.query}`,
    );
  }
  await c.query('SELECT pg_stat_statements_reset()');
  await c.end();
}

/** POST /v1/tasks over real HTTP (keep-alive), one at a time and 32 concurrent. */
async function httpCreation(
  url: string,
  config: TaskerConfig,
): Promise<{ sequential: LatencyStats; concurrent: LatencyStats; concurrency: number }> {
  const { createApiServer } = await import('../src/api/index.js');
  const pool = createPool({
    url: config.common.database.url,
    maxConnections: 20,
    idleTimeoutMs: 10_000,
    acquireTimeoutMs: 10_000,
    statementTimeoutMs: 30_000,
    applicationName: 'tasker-bench-api',
  });
  const api = await createApiServer({ config, pool });
  const { url: base } = await api.listen();
  const post = async (i: number): Promise<number> => {
    const t0 = performance.now();
    const res = await fetch(`${base}/v1/tasks`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ namespace: ns, name: 'linear', context: { i } }),
    });
    await res.arrayBuffer();
    if (res.status !== 201) throw new Error(`POST /v1/tasks answered ${res.status}`);
    return performance.now() - t0;
  };
  const runs = quick ? 50 : 500;
  for (let i = 0; i < 20; i++) await post(i);
  const seq: number[] = [];
  for (let i = 0; i < runs; i++) seq.push(await post(i));
  const concurrency = 32;
  const conc: number[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < runs * 2) {
        next += 1;
        conc.push(await post(next));
      }
    }),
  );
  await api.close();
  await pool.end();
  void url;
  return { sequential: stats(seq), concurrent: stats(conc), concurrency };
}

interface LatencyStats {
  runs: number;
  p50: number;
  p95: number;
  p99: number;
  mean: number;
}

function stats(samples: number[]): LatencyStats {
  const sorted = [...samples].sort((a, b) => a - b);
  return {
    runs: sorted.length,
    p50: percentile(sorted, 50),
    p95: percentile(sorted, 95),
    p99: percentile(sorted, 99),
    mean: sorted.reduce((a, b) => a + b, 0) / sorted.length,
  };
}

async function main(): Promise<void> {
  let server: EmbeddedServer | undefined;
  let serverUrl = process.env.DATABASE_URL;
  if (!serverUrl) {
    server = await startEmbeddedPostgres(
      profile
        ? { settings: { shared_preload_libraries: 'pg_stat_statements', 'pg_stat_statements.track': 'all' } }
        : {},
    );
    serverUrl = server.url;
  }
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  const overrides: DeepPartial<TaskerConfig> = {
    common: { logging: { level: 'silent' }, database: { pool: { max_connections: 20 } } },
    orchestration: { result_batch_size: 500, max_concurrent_result_batches: 2 },
    worker: {
      max_concurrent_handlers: 100,
      claim_batch_size: 100,
      completion_batch_size: 200,
      max_concurrent_completions: 4,
    },
  };
  /** A fresh, migrated database per mode, so one mode's leftovers never slow the next. */
  async function freshDatabase(): Promise<{ url: string; drop: () => Promise<void> }> {
    const name = `tasker_bench_${Date.now()}`;
    await admin.query(`CREATE DATABASE ${name}`);
    const u = new URL(serverUrl!);
    u.pathname = `/${name}`;
    const pool = createPool({
      url: u.toString(),
      maxConnections: 1,
      idleTimeoutMs: 1000,
      acquireTimeoutMs: 10000,
      statementTimeoutMs: 0,
      applicationName: 'tasker-bench',
    });
    await migrate(pool);
    await pool.end();
    return {
      url: u.toString(),
      drop: async () => void (await admin.query(`DROP DATABASE ${name} WITH (FORCE)`)),
    };
  }
  const settings = await admin.query<{ name: string; setting: string }>(
    `SELECT name, setting FROM pg_settings WHERE name IN ('server_version', 'fsync', 'synchronous_commit', 'shared_buffers', 'max_connections', 'wal_level', 'jit') ORDER BY name`,
  );
  const pgInfo = Object.fromEntries(settings.rows.map((r) => [r.name, r.setting]));

  console.log(
    `PostgreSQL ${pgInfo.server_version} (${server ? 'embedded' : 'DATABASE_URL'}), ${cpus().length} cores`,
  );
  /** The 10x burst (bench/burst.ts), in a BENCHMARKS.md section of its own. */
  const burstSection = async (): Promise<void> => {
    const results = await runBurst({ tasks: BURST_TASKS, freshDatabase, overrides });
    const args = process.argv.slice(2).join(' ');
    // JIT gets a section of its own: it decides the cost of claims over deep tables (see BENCHMARKS.md).
    const key = `burst-${server ? 'embedded' : 'database-url'}-pg${String(pgInfo.server_version).split('.')[0]}${quick ? '-quick' : ''}${pgInfo.jit === 'off' ? '-jit-off' : ''}`;
    await writeSection(
      key,
      [
        `<!-- bench:start:${key} -->`,
        `### 10x burst: PostgreSQL ${pgInfo.server_version} (${server ? 'embedded' : 'from DATABASE_URL'}), jit=${pgInfo.jit}`,
        '',
        `Run on ${new Date().toISOString().slice(0, 10)}: \`${process.env.PGOPTIONS ? `PGOPTIONS='${process.env.PGOPTIONS}' ` : ''}${server ? '' : 'DATABASE_URL=... '}npm run bench${args ? ` -- ${args}` : ''}\` on ${cpus().length} cores,`,
        `${Math.round(totalmem() / 2 ** 30)} GiB; fsync=${pgInfo.fsync}, synchronous_commit=${pgInfo.synchronous_commit}, jit=${pgInfo.jit},`,
        `shared_buffers=${pgInfo.shared_buffers} x 8kB, max_connections=${pgInfo.max_connections}; Node ${process.version}.`,
        '',
        ...burstMarkdown(results),
        `<!-- bench:end:${key} -->`,
      ].join('\n'),
    );
  };
  /** The conditional workflow and the 1,000-row batch (bench/dynamic.ts), in a section of their own. */
  const dynamicSection = async (): Promise<void> => {
    const results = await runDynamic({
      quick,
      freshDatabase,
      overrides,
      startEngine: (config, fastPath, workload) => startEngine(config, fastPath, undefined, workload),
    });
    const args = process.argv.slice(2).join(' ');
    const key = `dynamic-${server ? 'embedded' : 'database-url'}-pg${String(pgInfo.server_version).split('.')[0]}${quick ? '-quick' : ''}`;
    await writeSection(
      key,
      [
        `<!-- bench:start:${key} -->`,
        `### Dynamic workflows: PostgreSQL ${pgInfo.server_version} (${server ? 'embedded' : 'from DATABASE_URL'})`,
        '',
        `Run on ${new Date().toISOString().slice(0, 10)}: \`${server ? '' : 'DATABASE_URL=... '}npm run bench${args ? ` -- ${args}` : ''}\` on ${cpus().length} cores,`,
        `${Math.round(totalmem() / 2 ** 30)} GiB; fsync=${pgInfo.fsync}, synchronous_commit=${pgInfo.synchronous_commit}, jit=${pgInfo.jit},`,
        `shared_buffers=${pgInfo.shared_buffers} x 8kB, max_connections=${pgInfo.max_connections}; Node ${process.version}.`,
        '',
        ...dynamicMarkdown(results),
        `<!-- bench:end:${key} -->`,
      ].join('\n'),
    );
  };
  /** Task creation for 4-, 200- and 2,000-step templates (bench/create.ts), in a section of its own. */
  const createSection = async (): Promise<void> => {
    const results = await runCreate({ quick, freshDatabase });
    const args = process.argv.slice(2).join(' ');
    const key = `create-${server ? 'embedded' : 'database-url'}-pg${String(pgInfo.server_version).split('.')[0]}${quick ? '-quick' : ''}`;
    await writeSection(
      key,
      [
        `<!-- bench:start:${key} -->`,
        `### Task creation by template size: PostgreSQL ${pgInfo.server_version} (${server ? 'embedded' : 'from DATABASE_URL'})`,
        '',
        `Run on ${new Date().toISOString().slice(0, 10)}: \`${server ? '' : 'DATABASE_URL=... '}npm run bench${args ? ` -- ${args}` : ''}\` on ${cpus().length} cores,`,
        `${Math.round(totalmem() / 2 ** 30)} GiB; fsync=${pgInfo.fsync}, synchronous_commit=${pgInfo.synchronous_commit}, jit=${pgInfo.jit},`,
        `shared_buffers=${pgInfo.shared_buffers} x 8kB, max_connections=${pgInfo.max_connections}; Node ${process.version}.`,
        'One `tasker.create_task` call with the task view (as `POST /v1/tasks` makes it) per run, on one connection',
        'with a 30 s statement timeout; a fresh database per template size.',
        '',
        ...createMarkdown(results),
        `<!-- bench:end:${key} -->`,
      ].join('\n'),
    );
  };
  /** A part of bench/peers/ in a BENCHMARKS.md section of its own. */
  const peersPart = async (part: 'peers' | 'scale' | 'processes', title: string): Promise<void> => {
    const options = { admin, serverUrl: serverUrl, quick, log: (l: string) => console.log(l) };
    const lines =
      part === 'peers'
        ? peersMarkdown(await runPeers(options))
        : part === 'scale'
          ? scaleMarkdown(await runScale(options))
          : processesMarkdown(await runProcesses(options));
    const args = process.argv.slice(2).join(' ');
    const key = `${part}-${server ? 'embedded' : 'database-url'}-pg${String(pgInfo.server_version).split('.')[0]}${quick ? '-quick' : ''}`;
    await writeSection(
      key,
      [
        `<!-- bench:start:${key} -->`,
        `### ${title}: PostgreSQL ${pgInfo.server_version} (${server ? 'embedded' : 'from DATABASE_URL'})`,
        '',
        `Run on ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC: \`${server ? '' : 'DATABASE_URL=... '}npm run bench${args ? ` -- ${args}` : ''}\` on ${cpus().length} cores,`,
        `${Math.round(totalmem() / 2 ** 30)} GiB; fsync=${pgInfo.fsync}, synchronous_commit=${pgInfo.synchronous_commit}, jit=${pgInfo.jit},`,
        `shared_buffers=${pgInfo.shared_buffers} x 8kB, max_connections=${pgInfo.max_connections}; Node ${process.version}.`,
        '',
        ...lines,
        `<!-- bench:end:${key} -->`,
      ].join('\n'),
    );
  };
  if (only === 'peers' || only === 'scale' || only === 'processes') {
    const titles = {
      peers: 'Side by side with graphile-worker',
      scale: 'Per-step cost as finished tasks accumulate',
      processes: 'Throughput by number of worker processes',
    };
    await peersPart(only, titles[only]);
    await admin.end();
    await server?.stop();
    return;
  }
  if (only === 'burst' || only === 'dynamic' || only === 'create') {
    await (only === 'burst' ? burstSection() : only === 'dynamic' ? dynamicSection() : createSection());
    await admin.end();
    await server?.stop();
    return;
  }
  const rows: string[] = [];
  const tpRows: string[] = [];
  // Logging cost: the default path again with a real logger at info and at debug, writing to /dev/null (so the
  // figures show the engine's own logging work, not a terminal's).
  for (const [label, resolveInCompletion, logLevel] of [
    ['1 transaction per step (default)', true, undefined],
    ['4 transactions per step (`worker.resolve_in_completion = false`)', false, undefined],
    ['default path, logging at info', true, 'info'],
    ['default path, logging at debug', true, 'debug'],
  ] as const) {
    const logger = logLevel ? pino({ level: logLevel }, pino.destination('/dev/null')) : undefined;
    const db = await freshDatabase();
    const modeConfig = loadConfig({
      environment: 'production',
      env: { DATABASE_URL: db.url },
      overrides: {
        ...overrides,
        worker: { ...overrides.worker, resolve_in_completion: resolveInCompletion },
      },
    });
    const engine = await startEngine(modeConfig, resolveInCompletion, logger);
    const lin = await latency(engine, 'linear');
    console.log(
      `[${label}] linear-4 latency  p50 ${lin.p50.toFixed(2)} ms  p95 ${lin.p95.toFixed(2)} ms  p99 ${lin.p99.toFixed(2)} ms`,
    );
    const dia = await latency(engine, 'diamond');
    console.log(
      `[${label}] diamond-4 latency p50 ${dia.p50.toFixed(2)} ms  p95 ${dia.p95.toFixed(2)} ms  p99 ${dia.p99.toFixed(2)} ms`,
    );
    const tp = await throughput(engine, THROUGHPUT_TASKS);
    console.log(
      `[${label}] throughput ${THROUGHPUT_TASKS} linear-4 tasks: ${tp.seconds.toFixed(2)} s, ${tp.tasksPerSec.toFixed(0)} tasks/s, ${tp.stepsPerSec.toFixed(0)} steps/s`,
    );
    rows.push(
      `| linear-4, one task at a time | ${label} | ${LATENCY_RUNS} | ${lin.p50.toFixed(2)} ms | ${lin.p95.toFixed(2)} ms | ${lin.p99.toFixed(2)} ms | ${lin.mean.toFixed(2)} ms |`,
      `| diamond-4, one task at a time | ${label} | ${LATENCY_RUNS} | ${dia.p50.toFixed(2)} ms | ${dia.p95.toFixed(2)} ms | ${dia.p99.toFixed(2)} ms | ${dia.mean.toFixed(2)} ms |`,
    );
    tpRows.push(
      `| linear-4, all submitted at once | ${label} | ${THROUGHPUT_TASKS} | ${tp.seconds.toFixed(2)} s | ${tp.tasksPerSec.toFixed(0)} | ${tp.stepsPerSec.toFixed(0)} |`,
    );
    if (profile) await printTopStatements(db.url);
    await engine.worker.stop();
    await engine.orchestrator.stop();
    await db.drop();
  }

  // Task creation over HTTP, with an orchestrator and a worker running the tasks meanwhile.
  const httpDb = await freshDatabase();
  const httpConfig = loadConfig({
    environment: 'production',
    env: { DATABASE_URL: httpDb.url },
    overrides: {
      ...overrides,
      orchestration: { ...overrides.orchestration, api: { port: 0, auth: { enabled: false } } },
    },
  });
  // First the API alone (tasks are created and queued; nothing runs them), then with the engine running them in
  // this same process, which competes for the same two cores.
  {
    const registrar = createOrchestrator({ config: httpConfig });
    for (const t of [linear, diamond]) await registrar.registerTemplate(t);
    await registrar.stop();
  }
  const httpAlone = await httpCreation(httpDb.url, httpConfig);
  const httpEngine = await startEngine(httpConfig, false);
  const http = await httpCreation(httpDb.url, httpConfig);
  await httpEngine.worker.stop();
  await httpEngine.orchestrator.stop();
  await httpDb.drop();
  for (const [label, st] of [
    ['POST /v1/tasks, one at a time, API alone', httpAlone.sequential],
    [`POST /v1/tasks, ${http.concurrency} concurrent, API alone`, httpAlone.concurrent],
    ['POST /v1/tasks, one at a time, engine running', http.sequential],
    [`POST /v1/tasks, ${http.concurrency} concurrent, engine running`, http.concurrent],
  ] as const) {
    console.log(
      `${label}: p50 ${st.p50.toFixed(2)} ms  p95 ${st.p95.toFixed(2)} ms  p99 ${st.p99.toFixed(2)} ms`,
    );
  }

  if (only !== 'main') {
    await createSection();
    await dynamicSection();
    await burstSection();
  }
  await admin.end();
  await server?.stop();

  const date = new Date().toISOString().slice(0, 10);
  const major = String(pgInfo.server_version).split('.')[0];
  // One section per kind of server, so runs against the embedded server and against DATABASE_URL coexist.
  const key = `${server ? 'embedded' : 'database-url'}-pg${major}${quick ? '-quick' : ''}`;
  const block = [
    `<!-- bench:start:${key} -->`,
    `### PostgreSQL ${pgInfo.server_version} (${server ? 'embedded, `npm run bench`' : 'from DATABASE_URL'})`,
    '',
    `Run on ${date}: \`${server ? '' : 'DATABASE_URL=... '}npm run bench${quick ? ' -- --quick' : ''}\` on ${cpus().length} cores,`,
    `${Math.round(totalmem() / 2 ** 30)} GiB; fsync=${pgInfo.fsync}, synchronous_commit=${pgInfo.synchronous_commit},`,
    `shared_buffers=${pgInfo.shared_buffers} x 8kB, max_connections=${pgInfo.max_connections}; Node ${process.version}.`,
    '',
    '| measurement | path | runs | p50 | p95 | p99 | mean |',
    '| --- | --- | --- | --- | --- | --- | --- |',
    ...rows,
    '',
    '| task creation over HTTP (keep-alive) | runs | p50 | p95 | p99 | mean |',
    '| --- | --- | --- | --- | --- | --- |',
    ...[
      ['POST /v1/tasks, one at a time, API alone', httpAlone.sequential],
      [`POST /v1/tasks, ${http.concurrency} concurrent, API alone`, httpAlone.concurrent],
      ['POST /v1/tasks, one at a time, engine running the tasks in the same process', http.sequential],
      [
        `POST /v1/tasks, ${http.concurrency} concurrent, engine running the tasks in the same process`,
        http.concurrent,
      ],
    ].map(
      ([label, st]) =>
        `| ${label as string} | ${(st as LatencyStats).runs} | ${(st as LatencyStats).p50.toFixed(2)} ms | ${(st as LatencyStats).p95.toFixed(2)} ms | ${(st as LatencyStats).p99.toFixed(2)} ms | ${(st as LatencyStats).mean.toFixed(2)} ms |`,
    ),
    '',
    '| throughput | path | tasks | wall time | tasks/s | steps/s |',
    '| --- | --- | --- | --- | --- | --- |',
    ...tpRows,
    `<!-- bench:end:${key} -->`,
  ].join('\n');
  await writeSection(key, block);
}

/** Replaces the section `key` of BENCHMARKS.md, or inserts it after the latest-runs anchor. */
async function writeSection(key: string, block: string): Promise<void> {
  let doc: string;
  try {
    doc = await readFile('BENCHMARKS.md', 'utf8');
  } catch {
    doc = '# Benchmarks\n';
  }
  const section = new RegExp(`<!-- bench:start:${key} -->[\\s\\S]*<!-- bench:end:${key} -->`);
  const anchor = '<!-- latest runs are inserted here -->';
  const updated = section.test(doc)
    ? doc.replace(section, block)
    : doc.includes(anchor)
      ? doc.replace(anchor, `${anchor}\n\n${block}\n`)
      : `${doc.trimEnd()}\n\n${block}\n`;
  await writeFile('BENCHMARKS.md', updated);
  console.log('BENCHMARKS.md updated');
}

await main();
