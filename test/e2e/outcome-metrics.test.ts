import type { ChildProcess } from 'node:child_process';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiServer, type ApiServer } from '../../src/api/index.js';
import { ChannelMonitor } from '../../src/channels/index.js';
import { PermanentError, RetryableError } from '../../src/errors.js';
import { createWorkerWebServer, type WorkerWebServer } from '../../src/api/worker-server.js';
import { defineTemplate } from '../../src/templates/index.js';
import { defineHandler } from '../../src/worker/handler.js';
import { createWorker } from '../../src/worker/worker.js';
import { startExampleWorker } from '../support/cli-process.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { startEngine, testConfig, waitForTask, type Engine } from '../support/engine.js';

const ns = 'outcome_metrics';
// orders: validate fails once (retryable) then succeeds; ship fails permanently when the context says so.
const orders = defineTemplate({ namespace: ns, name: 'orders', version: '1.0.0' })
  .step('validate', { handler: 'om.flaky' })
  .step('ship', { handler: 'om.ship', dependsOn: ['validate'] })
  .build();
// reports: one step that fails permanently when the context says so.
const reports = defineTemplate({ namespace: ns, name: 'reports', version: '1.0.0' })
  .step('render', { handler: 'om.render' })
  .build();

// No worker serves this namespace: its task stays in steps_in_process until the staleness detector acts.
const orphan = defineTemplate({ namespace: 'om_orphan', name: 'orphan', version: '1.0.0' })
  .step('nobody_runs_me', { handler: 'unserved' })
  .build();

const handlers = [
  defineHandler('om.flaky', (ctx) => {
    if (ctx.attempt === 1) throw new RetryableError('not yet', { retryAfterMs: 1 });
    return { validated: true };
  }),
  defineHandler('om.ship', (ctx) => {
    if (ctx.context.fail) throw new PermanentError('cannot ship');
    return { shipped: true };
  }),
  defineHandler('om.render', (ctx) => {
    if (ctx.context.fail) throw new PermanentError('cannot render');
    return { rendered: true };
  }),
];

type Labels = Record<string, string>;

/** The Prometheus text exposition as samples: name, labels, value. */
function parseMetrics(text: string): { name: string; labels: Labels; value: number }[] {
  const samples: { name: string; labels: Labels; value: number }[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)$/.exec(line);
    if (!m) continue;
    const labels: Labels = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      labels[l[1]!] = l[2]!;
    }
    samples.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return samples;
}

/** The value of the one sample with this name and exactly these labels (undefined when absent). */
function sample(text: string, name: string, labels: Labels = {}): number | undefined {
  const want = Object.entries(labels);
  const found = parseMetrics(text).filter(
    (s) =>
      s.name === name &&
      Object.keys(s.labels).length === want.length &&
      want.every(([k, v]) => s.labels[k] === v),
  );
  if (found.length > 1) throw new Error(`${name} ${JSON.stringify(labels)} matches ${found.length} samples`);
  return found[0]?.value;
}

async function scrape(url: string, headers: Record<string, string> = {}): Promise<string> {
  const res = await fetch(`${url}/metrics`, { headers });
  expect(res.status).toBe(200);
  return res.text();
}

async function until(predicate: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`${what}: not reached in time`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Keeps the event loop busy for `ms` (a CPU-bound callback), so the delay histogram has something to show. */
function blockLoop(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // spin
  }
}

describe('task outcome, step and event-loop metrics', () => {
  let db: TestDatabase;
  let engine: Engine;
  let api: ApiServer;
  let base: string;

  beforeAll(async () => {
    db = await createTestDatabase();
    // The four-transaction path: the orchestrator finalizes (and counts) tasks; the worker-path counters are
    // the next describe's.
    engine = await startEngine(db, {
      templates: [orders, reports],
      handlers,
      overrides: { worker: { resolve_in_completion: false } },
    });
    const monitor = new ChannelMonitor();
    for (const c of [...engine.orchestrator.channels, ...engine.worker.channels]) monitor.register(c);
    api = await createApiServer({
      config: engine.config,
      pool: engine.orchestrator.pool,
      breaker: engine.orchestrator.breaker,
      channelMonitor: monitor,
      taskMetrics: engine.orchestrator.metrics,
      metricSets: [engine.worker.metrics],
    });
    base = (await api.listen()).url;
  });
  afterAll(async () => {
    await api?.close();
    await engine?.stop();
    await db?.drop();
  });

  it('counts created, completed and failed tasks by template, and attempts and durations by handler', async () => {
    const created: string[] = [];
    // Through the orchestrator: 3 orders (one fails), 2 reports (one fails).
    for (const fail of [false, false, true]) {
      created.push(
        (await engine.orchestrator.createTask({ namespace: ns, name: 'orders', context: { fail } })).taskUuid,
      );
    }
    for (const fail of [false, true]) {
      created.push(
        (await engine.orchestrator.createTask({ namespace: ns, name: 'reports', context: { fail } }))
          .taskUuid,
      );
    }
    // Through the API: 2 more reports (one fails), and an idempotent repeat that must not count.
    for (const [fail, key] of [
      [false, 'r-ok'],
      [true, 'r-fail'],
      [true, 'r-fail'],
    ] as const) {
      const res = await fetch(`${base}/v1/tasks`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ namespace: ns, name: 'reports', context: { fail }, idempotency_key: key }),
      });
      expect([200, 201]).toContain(res.status);
      const body = (await res.json()) as { task_uuid: string };
      if (res.status === 201) created.push(body.task_uuid);
    }
    expect(created).toHaveLength(7);
    const states = new Map<string, string>();
    for (const id of created) states.set(id, (await waitForTask(db.pool, id)).state);
    expect([...states.values()].filter((s) => s === 'complete')).toHaveLength(4);
    expect([...states.values()].filter((s) => s === 'error')).toHaveLength(3);
    const total = 13;
    // A task is final in the database a moment before its batch's reply reaches the orchestrator (and a step's
    // outcome before the worker has seen its write succeed): wait for both processes to have counted.
    await until(() => engine.orchestrator.stats.tasksFinalized === 7, 'orchestrator finalized 7 tasks');
    await until(() => engine.finished.length === total, `worker recorded ${total} attempts`);
    const text = await scrape(base);

    const tasks = (name: string, template: string): number | undefined =>
      sample(text, name, { namespace: ns, template });
    expect(tasks('tasker_tasks_created_total', 'orders')).toBe(3);
    expect(tasks('tasker_tasks_created_total', 'reports')).toBe(4);
    expect(tasks('tasker_tasks_completed_total', 'orders')).toBe(2);
    expect(tasks('tasker_tasks_failed_total', 'orders')).toBe(1);
    expect(tasks('tasker_tasks_completed_total', 'reports')).toBe(2);
    expect(tasks('tasker_tasks_failed_total', 'reports')).toBe(2);

    // Attempts as the handlers saw them (engine.finished lists every recorded attempt).
    const attempts = (handler: string, outcome: string): number | undefined =>
      sample(text, 'tasker_step_attempts_total', { handler, outcome });
    const durations = (handler: string, outcome: string): number | undefined =>
      sample(text, 'tasker_step_duration_seconds_count', { handler, outcome });
    const expected: [string, string, number][] = [
      ['om.flaky', 'retryable_failure', 3],
      ['om.flaky', 'success', 3],
      ['om.ship', 'success', 2],
      ['om.ship', 'permanent_failure', 1],
      ['om.render', 'success', 2],
      ['om.render', 'permanent_failure', 2],
    ];
    for (const [handler, outcome, n] of expected) {
      expect(attempts(handler, outcome), `${handler} ${outcome}`).toBe(n);
      expect(durations(handler, outcome), `${handler} ${outcome}`).toBe(n);
    }
    expect(attempts('om.flaky', 'permanent_failure')).toBeUndefined();
    expect(expected.reduce((sum, [, , n]) => sum + n, 0)).toBe(total);
    // Each validate task took two attempts: one retryable failure, then a success.
    const validate = engine.finished.filter((e) => e.handler === 'om.flaky');
    expect(validate.map((e) => e.attempt).sort()).toEqual([1, 1, 1, 2, 2, 2]);
    const sum = sample(text, 'tasker_step_duration_seconds_sum', {
      handler: 'om.render',
      outcome: 'success',
    });
    expect(sum).toBeGreaterThanOrEqual(0);
  });

  it('reports event-loop delay', async () => {
    // Two busy callbacks of 50 ms: the loop sampler (every 10 ms) sees them late.
    blockLoop(50);
    await new Promise((r) => setTimeout(r, 30));
    blockLoop(50);
    await new Promise((r) => setTimeout(r, 30));
    const text = await scrape(base);
    for (const q of ['0.5', '0.9', '0.99']) {
      expect(sample(text, 'tasker_event_loop_delay_seconds', { quantile: q })).toBeGreaterThanOrEqual(0);
    }
    expect(sample(text, 'tasker_event_loop_delay_seconds', { quantile: '0.99' })).toBeGreaterThan(0);
    expect(sample(text, 'tasker_event_loop_delay_seconds', { quantile: '1' })).toBeGreaterThan(0.01);
  });

  it('a worker web server started in-process serves metrics and health behind the API credentials', async () => {
    const config = testConfig(db.url, {
      orchestration: {
        api: {
          auth: {
            enabled: true,
            api_keys: [{ name: 'ops', key: 'ops-secret', permissions: ['system:read'] }],
          },
        },
      },
    });
    const worker = createWorker({ config, namespaces: [ns], handlers });
    await worker.start();
    let web: WorkerWebServer | undefined;
    try {
      web = await createWorkerWebServer({ worker, config });
      const { url } = await web.listen();
      expect((await fetch(`${url}/health/live`)).status).toBe(200);
      expect((await fetch(`${url}/metrics`)).status).toBe(401);
      expect((await fetch(`${url}/health`)).status).toBe(401);
      expect((await fetch(`${url}/nope`)).status).toBe(404);
      expect((await fetch(`${url}/metrics`, { method: 'POST' })).status).toBe(405);
      const auth = { 'x-api-key': 'ops-secret' };

      const health = await fetch(`${url}/health`, { headers: auth });
      expect(health.status).toBe(200);
      const report = (await health.json()) as {
        status: string;
        worker_id: string;
        database: { ok: boolean };
        pools: { name: string }[];
        channels: { name: string }[];
        circuit_breakers: { name: string; state: string }[];
      };
      expect(report.status).toBe('healthy');
      expect(report.worker_id).toBe(worker.id);
      expect(report.database.ok).toBe(true);
      expect(report.pools.map((p) => p.name)).toEqual(['worker', 'worker-completions']);
      expect(report.channels.map((c) => c.name)).toEqual(
        expect.arrayContaining(['worker.dispatch', 'worker.completion']),
      );
      expect(report.circuit_breakers).toEqual([
        expect.objectContaining({ name: worker.breaker.name, state: 'closed' }),
      ]);

      const text = await scrape(url, auth);
      expect(sample(text, 'tasker_circuit_breaker_state', { breaker: worker.breaker.name })).toBe(0);
      expect(sample(text, 'tasker_channel_depth', { channel: 'worker.dispatch' })).toBe(0);
      expect(sample(text, 'tasker_db_pool_connections', { pool: 'worker', state: 'waiting' })).toBe(0);
      expect(sample(text, 'tasker_event_loop_delay_seconds', { quantile: '0.99' })).toBeGreaterThanOrEqual(0);
      expect(text).toContain('# TYPE tasker_step_attempts_total counter');
      // Cluster-wide gauges come from the API process only.
      expect(text).not.toContain('tasker_queue_messages');
    } finally {
      await web?.close();
      await worker.stop();
    }
  });
});

describe('on the fast path the worker counts the tasks it finalizes', () => {
  let db: TestDatabase;
  let engine: Engine;

  beforeAll(async () => {
    db = await createTestDatabase();
    engine = await startEngine(db, {
      templates: [orders, reports],
      handlers,
      overrides: { worker: { resolve_in_completion: true } },
    });
  });
  afterAll(async () => {
    await engine?.stop();
    await db?.drop();
  });

  it('completed and failed tasks by template come from the completion transaction', async () => {
    const ids: string[] = [];
    for (const fail of [false, true]) {
      ids.push(
        (await engine.orchestrator.createTask({ namespace: ns, name: 'orders', context: { fail } })).taskUuid,
      );
    }
    ids.push(
      (await engine.orchestrator.createTask({ namespace: ns, name: 'reports', context: { fail: false } }))
        .taskUuid,
    );
    const states = await Promise.all(ids.map(async (id) => (await waitForTask(db.pool, id)).state));
    expect(states).toEqual(['complete', 'error', 'complete']);
    // Every attempt's write has returned to the worker (that is where the counters are fed).
    await until(() => engine.finished.length === 7, 'worker recorded 7 attempts');
    const registry = new Registry();
    engine.worker.taskMetrics.registerOn(registry);
    const text = await registry.metrics();
    const tasks = (name: string, template: string): number | undefined =>
      sample(text, name, { namespace: ns, template });
    expect(tasks('tasker_tasks_completed_total', 'orders')).toBe(1);
    expect(tasks('tasker_tasks_failed_total', 'orders')).toBe(1);
    expect(tasks('tasker_tasks_completed_total', 'reports')).toBe(1);
    // The orchestrator finalized nothing: the worker resolved every step itself.
    expect(engine.orchestrator.stats.tasksFinalized).toBe(0);
  });
});

describe('tasker worker (a worker-only process) serves /metrics and /health', () => {
  let db: TestDatabase;
  let engine: Engine;
  let child: ChildProcess | undefined;

  beforeAll(async () => {
    db = await createTestDatabase();
    // An orchestrator here; the examples' handlers run only in the child process. Staleness runs on demand.
    engine = await startEngine(db, {
      templates: [orphan],
      handlers: [],
      startWorker: false,
      overrides: { orchestration: { staleness: { enabled: false, steps_in_process_seconds: 1 } } },
    });
  });
  afterAll(async () => {
    child?.kill('SIGKILL');
    await engine?.stop();
    await db?.drop();
  });

  it('counts tasks the staleness detector moves to error', async () => {
    const { taskUuid } = await engine.orchestrator.createTask({
      namespace: 'om_orphan',
      name: 'orphan',
      context: {},
    });
    await db.pool.query(
      `UPDATE tasker.task_transitions SET created_at = now() - interval '10 seconds'
       WHERE task_uuid = $1 AND sort_key = (SELECT max(x.sort_key) FROM tasker.task_transitions x WHERE x.task_uuid = $1)`,
      [taskUuid],
    );
    const stale = await engine.orchestrator.staleness.runOnce();
    expect(stale.map((t) => t.taskUuid)).toEqual([taskUuid]);
    const registry = new Registry();
    engine.orchestrator.metrics.registerOn(registry);
    engine.orchestrator.metrics.registerOn(registry); // idempotent
    const text = await registry.metrics();
    expect(sample(text, 'tasker_tasks_stale_total', { state: 'steps_in_process' })).toBe(1);
    expect(sample(text, 'tasker_tasks_created_total', { namespace: 'om_orphan', template: 'orphan' })).toBe(
      1,
    );
    // Staleness is counted on its own, not as a step failure.
    expect(
      sample(text, 'tasker_tasks_failed_total', { namespace: 'om_orphan', template: 'orphan' }),
    ).toBeUndefined();
  });

  it('reports the attempts of the steps it ran, its health, and exits 0 on SIGTERM', async () => {
    child = startExampleWorker({ ...process.env, DATABASE_URL: db.url, TASKER_ENV: 'test' }, [
      '--log-level',
      'info',
    ]);
    const proc = child;
    let output = '';
    const url = await new Promise<string>((resolve, reject) => {
      proc.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
        output += chunk;
        for (const line of output.split('\n')) {
          if (!line.startsWith('{')) continue;
          const entry = JSON.parse(line) as { msg?: string; url?: string };
          if (entry.msg === 'worker web server listening' && entry.url) resolve(entry.url);
        }
      });
      proc.once('exit', (code) => reject(new Error(`tasker worker exited with ${code}: ${output}`)));
    });

    expect((await fetch(`${url}/health/live`)).status).toBe(200);
    const task = await engine.orchestrator.createTask({
      namespace: 'examples',
      name: 'linear_workflow',
      context: { even_number: 2 },
    });
    expect((await waitForTask(db.pool, task.taskUuid)).state).toBe('complete');

    const text = await scrape(url);
    expect(
      sample(text, 'tasker_step_attempts_total', { handler: 'math.square_context', outcome: 'success' }),
    ).toBe(1);
    expect(
      sample(text, 'tasker_step_attempts_total', { handler: 'math.square_parent', outcome: 'success' }),
    ).toBe(3);
    expect(
      sample(text, 'tasker_step_duration_seconds_count', {
        handler: 'math.square_parent',
        outcome: 'success',
      }),
    ).toBe(3);
    expect(sample(text, 'tasker_event_loop_delay_seconds', { quantile: '0.5' })).toBeGreaterThanOrEqual(0);
    expect(sample(text, 'process_cpu_user_seconds_total')).toBeGreaterThan(0);

    const health = await fetch(`${url}/health`);
    expect(health.status).toBe(200);
    const report = (await health.json()) as {
      status: string;
      namespaces: string[];
      handlers: { completed: number };
    };
    expect(report.status).toBe('healthy');
    expect(report.namespaces).toContain('examples');
    expect(report.handlers.completed).toBe(4);

    const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
    proc.kill('SIGTERM');
    expect(await exited).toBe(0);
  });
});
