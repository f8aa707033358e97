/**
 * `npx tsx bench/sql-profile.ts`: latency of each per-step SQL function called one at a time (no batching),
 * to see where a step's time goes. Uses DATABASE_URL's server (creates and drops its own database) or an
 * embedded PostgreSQL. `npx tsx bench/sql-profile.ts four`: the four-transaction path (claim, complete, process
 * result) instead of the default one-transaction path (complete_steps resolves and claims the next step);
 * `chain`: the chained path (ADR 0011), create_task claiming the root and one complete_steps writing it with its
 * three dependents run right after it. PROFILE_TASKS: how many tasks (200).
 */
import pg from 'pg';
import { migrate } from '../src/db/migrate.js';
import { createPool } from '../src/db/pool.js';
import { registerTemplate } from '../src/orchestration/template-registry.js';
import { stepUuidFor } from '../src/contract/step-uuid.js';
import { defineTemplate } from '../src/templates/index.js';
import { startEmbeddedPostgres, type EmbeddedServer } from '../src/testing/embedded-postgres.js';

const TASKS = Number(process.env.PROFILE_TASKS ?? 200);
const onePath = process.argv[2] !== 'four';
const chainPath = process.argv[2] === 'chain';
let server: EmbeddedServer | undefined;
let serverUrl = process.env.DATABASE_URL;
if (!serverUrl) {
  // pg_stat_statements with track=all shows the cost of every statement inside the engine's functions.
  server = await startEmbeddedPostgres({
    settings: {
      shared_preload_libraries: 'pg_stat_statements',
      'pg_stat_statements.track': 'all',
      track_functions: 'all',
    },
  });
  serverUrl = server.url;
}
const dbName = `tasker_profile_${Date.now()}`;
const admin = new pg.Client({ connectionString: serverUrl });
await admin.connect();
await admin.query(`CREATE DATABASE ${dbName}`);
const url = new URL(serverUrl);
url.pathname = `/${dbName}`;
const pool = createPool({
  url: url.toString(),
  maxConnections: 1,
  idleTimeoutMs: 10_000,
  acquireTimeoutMs: 10_000,
  statementTimeoutMs: 0,
  applicationName: 'tasker-profile',
});
await migrate(pool);
const template = defineTemplate({ namespace: 'profile', name: 'linear', version: '1.0.0' })
  .step('a', { handler: 'h' })
  .step('b', { handler: 'h', dependsOn: ['a'] })
  .step('c', { handler: 'h', dependsOn: ['b'] })
  .step('d', { handler: 'h', dependsOn: ['c'] })
  .build();
await registerTemplate(pool, template);

const timings: Record<string, number[]> = {};
async function timed(label: string, text: string, values: unknown[]): Promise<pg.QueryResult> {
  const t0 = performance.now();
  const res = await pool.query({ name: label, text, values });
  (timings[label] ??= []).push(performance.now() - t0);
  return res;
}
await timed('select_1', 'SELECT 1', []);
/** The chained path: the root claimed by create_task, then one completion with b, c and d chained. */
async function chainedTask(): Promise<void> {
  const claim = {
    claim: { queues: ['worker_profile_queue'], limit: 4, lease_seconds: 30, worker: 'profiler' },
  };
  const made = await timed('create_task(claim)', 'SELECT * FROM tasker.create_task($1, $2, $3, $4, $5, $6)', [
    'profile',
    'linear',
    null,
    '{"i":1}',
    JSON.stringify(claim),
    'profiler',
  ]);
  const root = (made.rows[0] as { claimed: { step_uuid: string; msg_id: string; task_uuid: string }[] })
    .claimed[0]!;
  const results = { success: true, result: { ok: true }, metadata: { attempt: 1 } };
  const entries = [{ step_uuid: root.step_uuid, msg_id: root.msg_id, attempt: 1, success: true, results }];
  for (const name of ['b', 'c', 'd']) {
    const step_uuid = stepUuidFor(root.task_uuid, name);
    entries.push({ step_uuid, msg_id: null as unknown as string, attempt: 1, success: true, results });
    Object.assign(entries.at(-1)!, { chained: true, handler: 'h' });
  }
  const done = await timed(
    'complete_steps(chain)',
    'SELECT * FROM tasker.complete_steps($1, $2, true, $3, $4, $5)',
    [JSON.stringify(entries), 'profiler', ['worker_profile_queue'], 10, 30],
  );
  if (!done.rows.every((r: { applied: boolean }) => r.applied)) throw new Error('the chain was not applied');
}

for (let i = 0; i < TASKS; i++) {
  await timed('select_1', 'SELECT 1', []);
  if (chainPath) {
    await chainedTask();
    continue;
  }
  await timed('create_task', 'SELECT * FROM tasker.create_task($1, $2, $3, $4, $5, $6)', [
    'profile',
    'linear',
    null,
    '{"i":1}',
    '{}',
    'profiler',
  ]);
  let claimed = await timed('claim_steps', 'SELECT * FROM tasker.claim_steps($1, $2, $3, $4)', [
    'worker_profile_queue',
    10,
    30,
    'profiler',
  ]);
  for (let s = 0; s < 4; s++) {
    const row = claimed.rows[0] as { step_uuid: string; msg_id: string; attempt: number };
    const results = { success: true, result: { ok: true }, metadata: { attempt: row.attempt } };
    const payload = JSON.stringify([
      { step_uuid: row.step_uuid, msg_id: row.msg_id, attempt: row.attempt, success: true, results },
    ]);
    if (onePath) {
      const done = await timed(
        'complete_steps(one)',
        'SELECT * FROM tasker.complete_steps($1, $2, true, $3, $4, $5)',
        [payload, 'profiler', ['worker_profile_queue'], 10, 30],
      );
      const next = (done.rows[0] as { claimed: unknown[] | null }).claimed ?? [];
      if (s < 3 && next.length !== 1) throw new Error(`expected one claimed step, got ${next.length}`);
      claimed = { rows: next } as pg.QueryResult;
      continue;
    }
    await timed('complete_steps', 'SELECT * FROM tasker.complete_steps($1, $2)', [payload, 'profiler']);
    await timed('process_step_results', 'SELECT * FROM tasker.process_step_results($1, $2)', [
      100,
      'profiler',
    ]);
    if (s < 3) {
      claimed = await timed('claim_steps', 'SELECT * FROM tasker.claim_steps($1, $2, $3, $4)', [
        'worker_profile_queue',
        10,
        30,
        'profiler',
      ]);
    }
  }
}
for (const [label, values] of Object.entries(timings)) {
  values.sort((a, b) => a - b);
  const p50 = values[Math.floor(values.length / 2)]!;
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  console.log(
    `${label.padEnd(22)} p50 ${p50.toFixed(3)} ms   mean ${mean.toFixed(3)} ms   (${values.length} calls)`,
  );
}
if (server) {
  await pool.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
  const top = await pool.query<{ calls: string; mean: number; total: number; query: string }>(
    `SELECT calls, round(mean_exec_time::numeric, 4)::float8 AS mean, round(total_exec_time::numeric, 1)::float8 AS total,
            regexp_replace(left(query, 90), '\\s+', ' ', 'g') AS query
     FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
     ORDER BY total_exec_time DESC LIMIT 45`,
  );
  const fns = await pool.query<{ funcname: string; calls: string; total: number; self: number }>(
    `SELECT funcname, calls, round(total_time::numeric, 1)::float8 AS total, round(self_time::numeric, 1)::float8 AS self
     FROM pg_stat_user_functions ORDER BY self_time DESC LIMIT 25`,
  );
  const total = await pool.query<{ n: string }>(
    `SELECT sum(calls)::bigint AS n FROM pg_stat_statements
     WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())`,
  );
  console.log(
    `\nstatements executed, nested ones included: ${(Number(total.rows[0]!.n) / (TASKS * 4)).toFixed(1)} per step`,
  );
  console.log('\nfunctions by self time (pg_stat_user_functions):');
  for (const f of fns.rows) {
    console.log(
      `${String(f.self).padStart(8)} ms self ${String(f.total).padStart(8)} ms total ${String(f.calls).padStart(6)}x  ${f.funcname}`,
    );
  }
  console.log('\nstatements by total time (pg_stat_statements, nested statements included):');
  for (const r of top.rows) {
    console.log(
      `${String(r.total).padStart(8)} ms ${String(r.calls).padStart(6)}x ${String(r.mean).padStart(7)} ms  ${r.query}`,
    );
  }
}
await pool.end();
await admin.query(`DROP DATABASE ${dbName} WITH (FORCE)`);
await admin.end();
await server?.stop();
