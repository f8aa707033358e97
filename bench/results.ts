/**
 * Latency of `TaskHandle.result()` after the task's finalizing commit: how long an application awaiting a task
 * waits once the transaction that finished it has committed (the notification's delivery plus one read of the
 * outcome). Not part of `npm test`; run it alone:
 *
 *   npx tsx bench/results.ts            # 500 tasks per path (DATABASE_URL, else an embedded PostgreSQL)
 *   npx tsx bench/results.ts --quick    # 50
 *
 * As deployed: the engine (orchestrator + worker) runs in this process, the application in a child process
 * with neither, creating one task at a time (a one-step template) and awaiting its result. The commit is timed
 * by the engine's own callbacks, which run once the finalizing statement returned (it autocommits):
 * `onResultBatch` on the default path (the orchestrator's process_step_results finalizes), `onStepFinished` on
 * the fast path (`worker.resolve_in_completion`: the worker's complete_steps finalizes). Both processes read the
 * same wall clock (`performance.timeOrigin + performance.now()`); the n-th commit is the n-th task's.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { loadConfig } from '../src/config/index.js';
import { migrate } from '../src/db/migrate.js';
import { createPool } from '../src/db/pool.js';
import { createOrchestrator } from '../src/orchestration/orchestrator.js';
import { createTasker } from '../src/results/tasker.js';
import { defineTemplate } from '../src/templates/index.js';
import { startEmbeddedPostgres, type EmbeddedServer } from '../src/testing/embedded-postgres.js';
import { defineHandler } from '../src/worker/handler.js';
import { createWorker } from '../src/worker/worker.js';

const quick = process.argv.includes('--quick');
const RUNS = quick ? 50 : 500;
const WARMUP = quick ? 5 : 50;

const single = defineTemplate({ namespace: 'bench_results', name: 'single', version: '1.0.0' })
  .step('only', { handler: 'noop' })
  .build();
const handlers = [defineHandler('noop', () => ({ ok: true }))];

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

const wallClock = (): number => performance.timeOrigin + performance.now();

function configFor(url: string, fastPath: boolean): ReturnType<typeof loadConfig> {
  return loadConfig({
    environment: 'development',
    env: { DATABASE_URL: url },
    overrides: { common: { logging: { level: 'error' } }, worker: { resolve_in_completion: fastPath } },
  });
}

/** The application (child process): creates and awaits tasks one at a time; prints when each resolved. */
async function waiter(url: string, count: number): Promise<void> {
  const tasker = createTasker({ config: configFor(url, false) });
  try {
    for (let i = 0; i < count; i++) {
      const task = await tasker.createTask({ namespace: 'bench_results', name: 'single', context: { i } });
      await task.result({ timeoutMs: 30_000 });
      process.stdout.write(`${wallClock()}\n`);
    }
  } finally {
    await tasker.close();
  }
}

/** The engine in this process, the application in a child; returns each task's result() latency, sorted. */
async function measure(url: string, fastPath: boolean): Promise<number[]> {
  const config = configFor(url, fastPath);
  const commits: number[] = [];
  const orchestrator = createOrchestrator({
    config,
    onResultBatch: () => {
      if (!fastPath) commits.push(wallClock());
    },
  });
  await orchestrator.registerTemplate(single);
  const worker = createWorker({
    config,
    templates: [single],
    handlers,
    onStepFinished: () => {
      if (fastPath) commits.push(wallClock());
    },
  });
  await orchestrator.start();
  await worker.start();
  try {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', fileURLToPath(import.meta.url), '--waiter', url, String(WARMUP + RUNS)],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    if (code !== 0) throw new Error(`the waiter process failed (exit ${code})`);
    const resolved = out.trim().split('\n').map(Number);
    if (resolved.length !== commits.length) {
      throw new Error(`${resolved.length} results but ${commits.length} finalizing commits`);
    }
    return resolved
      .map((at, i) => at - commits[i]!)
      .slice(WARMUP)
      .sort((a, b) => a - b);
  } finally {
    await worker.stop();
    await orchestrator.stop();
  }
}

async function main(): Promise<void> {
  let server: EmbeddedServer | undefined;
  let serverUrl = process.env.DATABASE_URL;
  if (!serverUrl) {
    server = await startEmbeddedPostgres();
    serverUrl = server.url;
  }
  const name = `tasker_bench_results_${Date.now()}`;
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  const u = new URL(serverUrl);
  u.pathname = `/${name}`;
  const url = u.toString();
  try {
    const pool = createPool({
      url,
      maxConnections: 1,
      idleTimeoutMs: 1000,
      acquireTimeoutMs: 10_000,
      statementTimeoutMs: 0,
      applicationName: 'tasker-bench',
    });
    await migrate(pool);
    await pool.end();
    const version = (await admin.query<{ server_version: string }>('SHOW server_version')).rows[0]!
      .server_version;
    console.log(`PostgreSQL ${version} (${server ? 'embedded' : 'DATABASE_URL'}), ${RUNS} tasks per path`);
    console.log('| path | p50 | p99 | min | max |');
    console.log('| --- | --- | --- | --- | --- |');
    for (const fastPath of [false, true]) {
      const s = await measure(url, fastPath);
      const ms = (v: number): string => `${v.toFixed(2)} ms`;
      console.log(
        `| ${fastPath ? 'fast path (worker finalizes)' : 'default (orchestrator finalizes)'} | ` +
          `${ms(percentile(s, 50))} | ${ms(percentile(s, 99))} | ${ms(s[0]!)} | ${ms(s.at(-1)!)} |`,
      );
    }
  } finally {
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.end();
    await server?.stop();
  }
}

const w = process.argv.indexOf('--waiter');
if (w >= 0) await waiter(process.argv[w + 1]!, Number(process.argv[w + 2]));
else await main();
