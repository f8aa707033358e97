/**
 * `npx tsx bench/sql-ab.ts <variant.sql> [tasks] [--create]`: is a change to the engine's SQL faster? Two fresh
 * databases on DATABASE_URL's server (default: the local PostgreSQL on 127.0.0.1:5432): A as migrated, B with
 * `variant.sql` applied on top (for example the old or a new definition of a function). Linear-4 tasks then run
 * on the one-transaction path (created, each step completed by `complete_steps`, which claims the next),
 * alternating between A and B, so both see the same drift of this machine (±30 % between runs). Prints the p50 of
 * `complete_steps` in each and B / A; with `--create`, of `create_task` claiming the root step for a worker;
 * with `--fanout`, of `create_task` on the 1 → 200 → 1 template of the peers' W4 (tasks created, not run);
 * with `--chain`, of the one `complete_steps` that writes the claimed root and its three chained dependents.
 * `--listeners`: two more connections per database LISTEN, as a worker's and a waiter's would (every commit that
 * notifies wakes each listening backend of its database, whatever the channel).
 */
import { readFileSync } from 'node:fs';
import pg from 'pg';
import { migrate } from '../src/db/migrate.js';
import { registerTemplate } from '../src/orchestration/template-registry.js';
import { stepUuidFor } from '../src/contract/step-uuid.js';
import { defineTemplate, type TaskTemplate } from '../src/templates/index.js';

const args = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const fanout = process.argv.includes('--fanout');
const chain = process.argv.includes('--chain');
const timeCreate = fanout || process.argv.includes('--create');
const listeners = process.argv.includes('--listeners');
const variant = args[0];
if (!variant) throw new Error('usage: npx tsx bench/sql-ab.ts <variant.sql> [tasks] [--create]');
const TASKS = Number(args[1] ?? 300);
const CLAIM = JSON.stringify({
  claim: { queues: ['worker_ab_queue'], limit: 4, lease_seconds: 30, worker: 'ab' },
});
const QUEUE = 'worker_ab_queue';
const serverUrl = process.env.DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';
const template = defineTemplate({ namespace: 'ab', name: 'linear', version: '1.0.0' })
  .step('a', { handler: 'h' })
  .step('b', { handler: 'h', dependsOn: ['a'] })
  .step('c', { handler: 'h', dependsOn: ['b'] })
  .step('d', { handler: 'h', dependsOn: ['c'] })
  .build();
const fanoutTemplate: TaskTemplate = {
  namespace: 'ab',
  name: 'fanout',
  version: '1.0.0',
  steps: template.steps
    .slice(0, 1)
    .map((s) => ({ ...s, name: 'root' }))
    .concat(
      Array.from({ length: 200 }, (_, i) => ({
        ...template.steps[0]!,
        name: `m${i + 1}`,
        dependsOn: ['root'],
      })),
    )
    .concat([
      { ...template.steps[0]!, name: 'join', dependsOn: Array.from({ length: 200 }, (_, i) => `m${i + 1}`) },
    ]),
};

interface Side {
  name: string;
  pool: pg.Pool;
  times: number[];
  listening: pg.Client[];
}

const admin = new pg.Client({ connectionString: serverUrl });
await admin.connect();

async function side(label: string, extraSql?: string): Promise<Side> {
  const name = `tasker_ab_${label}_${Date.now()}`;
  await admin.query(`CREATE DATABASE ${name}`);
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  const pool = new pg.Pool({ connectionString: url.toString(), max: 1 });
  pool.on('error', () => {});
  await migrate(pool);
  await registerTemplate(pool, template);
  await registerTemplate(pool, fanoutTemplate);
  if (extraSql) await pool.query(extraSql);
  const listening: pg.Client[] = [];
  for (const channel of listeners ? ['tasker_task_finished', `tasker_q_${QUEUE}`] : []) {
    const client = new pg.Client({ connectionString: url.toString() });
    await client.connect();
    await client.query(`LISTEN ${channel}`);
    listening.push(client);
  }
  return { name, pool, times: [], listening };
}

async function runTask(s: Side): Promise<void> {
  const created = performance.now();
  const made = await s.pool.query({
    name: 'create',
    text: `SELECT claimed FROM tasker.create_task('ab', $2, NULL, '{}', $1, 'ab')`,
    values: [CLAIM, fanout ? 'fanout' : 'linear'],
  });
  if (timeCreate) s.times.push(performance.now() - created);
  if (fanout) return;
  let claimed = (made.rows[0] as { claimed: unknown[] | null }).claimed ?? [];
  if (claimed.length !== 1) throw new Error('the root step was not claimed');
  if (chain) {
    const root = claimed[0] as { step_uuid: string; msg_id: string; attempt: number; task_uuid: string };
    const results = { success: true, result: { ok: true }, metadata: {} };
    const entries = [{ ...root, success: true, results }].concat(
      ['b', 'c', 'd'].map((name) => ({
        step_uuid: stepUuidFor(root.task_uuid, name),
        msg_id: null as unknown as string,
        attempt: 1,
        task_uuid: root.task_uuid,
        success: true,
        results,
        chained: true,
        handler: 'h',
      })),
    );
    const t0 = performance.now();
    const done = await s.pool.query<{ applied: boolean }>({
      name: 'complete',
      text: `SELECT * FROM tasker.complete_steps($1, 'ab', true, $2, 10, 30)`,
      values: [JSON.stringify(entries), [QUEUE]],
    });
    s.times.push(performance.now() - t0);
    if (!done.rows.every((r) => r.applied)) throw new Error('the chain was not applied');
    return;
  }
  for (let step = 0; step < 4; step++) {
    const row = claimed[0] as { step_uuid: string; msg_id: string; attempt: number };
    const results = { success: true, result: { ok: true }, metadata: {} };
    const payload = JSON.stringify([{ ...row, success: true, results }]);
    const t0 = performance.now();
    const done = await s.pool.query({
      name: 'complete',
      text: `SELECT * FROM tasker.complete_steps($1, 'ab', true, $2, 10, 30)`,
      values: [payload, [QUEUE]],
    });
    if (!timeCreate) s.times.push(performance.now() - t0);
    claimed = (done.rows[0] as { claimed: unknown[] | null }).claimed ?? [];
    if (step < 3 && claimed.length !== 1) throw new Error('the next step was not claimed');
  }
}

const a = await side('a');
const b = await side('b', readFileSync(variant, 'utf8'));
for (let i = 0; i < TASKS; i++) {
  await runTask(a);
  await runTask(b);
}
const p50 = (v: number[]): number => [...v].sort((x, y) => x - y)[v.length >> 1]!;
console.log(
  `${timeCreate ? 'create_task' : chain ? 'complete_steps (root + 3 chained)' : 'complete_steps'} p50: A ${p50(a.times).toFixed(3)} ms, ` +
    `B ${p50(b.times).toFixed(3)} ms, ` +
    `B / A ${(p50(b.times) / p50(a.times)).toFixed(2)} (${a.times.length} calls each)`,
);
for (const s of [a, b]) {
  for (const c of s.listening) await c.end();
  await s.pool.end();
}
for (const s of [a, b]) await admin.query(`DROP DATABASE ${s.name} WITH (FORCE)`);
await admin.end();
