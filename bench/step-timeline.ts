/**
 * `npx tsx bench/step-timeline.ts [four] [diamond] [queries]`: where the time of one linear-4 task goes, step by step
 * (created, handler started, outcome written, finish announced on `tasker_task_finished`), p50 over 30 tasks;
 * `four`: the four-transaction path (`worker.resolve_in_completion = false`) instead of the default; `diamond`:
 * the diamond-4 template (s1 → s2, s3 → s4) instead of the chain; `queries`: also when the `create_task` and
 * `complete_steps` calls are sent and their results read. Also prints the Node process's CPU time per task (user +
 * system, after the warm-up). Uses DATABASE_URL's server (creates and drops its own database) or a fresh
 * embedded PostgreSQL.
 */
import pg from 'pg';
import { loadConfig } from '../src/config/index.js';
import { migrate } from '../src/db/migrate.js';
import { createPool } from '../src/db/pool.js';
import { createOrchestrator } from '../src/orchestration/orchestrator.js';
import { defineTemplate } from '../src/templates/index.js';
import { defineHandler } from '../src/worker/handler.js';
import { createWorker } from '../src/worker/worker.js';
import { startEmbeddedPostgres } from '../src/testing/embedded-postgres.js';

const embedded = process.env.DATABASE_URL ? undefined : await startEmbeddedPostgres();
const serverUrl = process.env.DATABASE_URL ?? embedded!.url;
const admin = new pg.Client({ connectionString: serverUrl });
await admin.connect();
const name = `tasker_timeline_${Date.now()}`;
await admin.query(`CREATE DATABASE ${name}`);
const u = new URL(serverUrl);
u.pathname = `/${name}`;
const url = u.toString();
const pool = createPool({
  url,
  maxConnections: 2,
  idleTimeoutMs: 1000,
  acquireTimeoutMs: 5000,
  statementTimeoutMs: 0,
  applicationName: 'timeline',
});
await migrate(pool);
const four = process.argv.includes('four');
const diamond = process.argv.includes('diamond');
const template = defineTemplate({ namespace: 'tl', name: 'lin', version: '1.0.0' })
  .step('s1', { handler: 'h' })
  .step('s2', { handler: 'h', dependsOn: ['s1'] })
  .step('s3', { handler: 'h', dependsOn: [diamond ? 's1' : 's2'] })
  .step('s4', { handler: 'h', dependsOn: diamond ? ['s2', 's3'] : ['s3'] })
  .build();
const config = loadConfig({
  environment: 'production',
  env: { DATABASE_URL: url },
  overrides: { common: { logging: { level: 'silent' } }, worker: { resolve_in_completion: !four } },
});
// `queries`: also when each create_task / complete_steps call is sent and its result read (pg's Client.query)
if (process.argv.includes('queries')) {
  type Query = (this: pg.Client, ...args: unknown[]) => unknown;
  const proto = pg.Client.prototype as unknown as { query: Query };
  const query = proto.query;
  proto.query = function (...args) {
    const first = args[0] as string | { text?: string } | undefined;
    const text = typeof first === 'string' ? first : (first?.text ?? '');
    const call = /tasker\.(create_task|complete_steps)\(/.exec(text)?.[1];
    if (!call) return query.apply(this, args);
    mark(`${call} sent`);
    // pg-pool passes a callback; a client used directly returns a promise
    const last = args.length - 1;
    const callback = args[last];
    if (typeof callback === 'function') {
      args[last] = (...r: unknown[]) => (
        mark(`${call} read`),
        (callback as (...r: unknown[]) => unknown)(...r)
      );
      return query.apply(this, args);
    }
    const result = query.apply(this, args);
    if (result instanceof Promise) {
      void result.then(
        () => mark(`${call} read`),
        () => undefined,
      );
    }
    return result;
  };
}
const orchestrator = createOrchestrator({ config });
await orchestrator.registerTemplate(template);
let t0 = 0;
const marks = new Map<string, number[]>();
const mark = (label: string): void => {
  const list = marks.get(label) ?? [];
  list.push(performance.now() - t0);
  marks.set(label, list);
};
const worker = createWorker({
  config,
  templates: [template],
  handlers: [defineHandler('h', (ctx) => (mark(`${ctx.stepName} handler started`), 1))],
  onStepFinished: (e) => mark(`${e.stepName} outcome written`),
});
// The finish is observed the way the peers benchmark does: announced on tasker_task_finished.
const listener = new pg.Client({ connectionString: url });
await listener.connect();
await listener.query('LISTEN tasker_task_finished');
let onFinished: (() => void) | undefined;
listener.on('notification', () => onFinished?.());
await orchestrator.start();
await worker.start();
const runs = Number(process.env.TIMELINE_RUNS ?? 40);
let cpuAtStart = process.cpuUsage();
for (let i = 0; i < runs; i++) {
  if (i === 10) {
    marks.clear();
    cpuAtStart = process.cpuUsage();
  }
  const done = new Promise<void>((resolve) => (onFinished = resolve));
  t0 = performance.now();
  await orchestrator.createTask({ namespace: 'tl', name: 'lin', context: { i } });
  mark('0 task created');
  await done;
  mark('task finish announced');
}
const rows = [...marks.entries()].map(
  ([label, v]) => [label, v.sort((a, b) => a - b)[Math.floor(v.length / 2)]!] as const,
);
rows.sort((a, b) => a[1] - b[1]);
for (const [label, p50] of rows) console.log(`${p50.toFixed(2).padStart(7)} ms  ${label}`);
const cpu = process.cpuUsage(cpuAtStart);
console.log(`Node CPU per task: ${((cpu.user + cpu.system) / 1000 / Math.max(1, runs - 10)).toFixed(3)} ms`);
console.log(`completion batches per task: ${(worker.stats.completionBatches / runs).toFixed(2)}`);
await listener.end();
await worker.stop();
await orchestrator.stop();
await pool.end();
await admin.query(`DROP DATABASE ${name} WITH (FORCE)`);
await admin.end();
await embedded?.stop();
