import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiServer, type ApiServer } from '../../src/api/index.js';
import { loadConfig } from '../../src/config/index.js';
import { migrate } from '../../src/db/migrate.js';
import { createPool } from '../../src/db/pool.js';
import { createOrchestrator, type Orchestrator } from '../../src/orchestration/orchestrator.js';
import { getTask } from '../../src/orchestration/task-queries.js';
import { defineTemplate } from '../../src/templates/index.js';
import { startEmbeddedPostgres, type EmbeddedServer } from '../../src/testing/embedded-postgres.js';
import { defineHandler } from '../../src/worker/handler.js';
import { createWorker, type Worker } from '../../src/worker/worker.js';

/**
 * A database that goes away mid-run: this test owns its own PostgreSQL server so it can stop it. The breakers
 * open, health turns unhealthy and the API answers 503 with Retry-After; when the server is back the breakers
 * recover through half-open and every task completes, nothing lost.
 */
const template = defineTemplate({ namespace: 'outage', name: 'chain', version: '1.0.0' })
  .step('a', { handler: 'slowish' })
  .step('b', { handler: 'slowish', dependsOn: ['a'] })
  .step('c', { handler: 'slowish', dependsOn: ['b'] })
  .build();

async function until(
  check: () => boolean | Promise<boolean>,
  timeoutMs: number,
  what: string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('database lost mid-run', () => {
  let server: EmbeddedServer;
  let url: string;
  let orchestrator: Orchestrator;
  let worker: Worker;
  let api: ApiServer;
  let apiPool: pg.Pool;
  let base: string;

  beforeAll(async () => {
    server = await startEmbeddedPostgres();
    url = server.url.replace(/\/postgres$/, '/tasker_outage');
    const admin = new pg.Client({ connectionString: server.url });
    await admin.connect();
    await admin.query('CREATE DATABASE tasker_outage');
    await admin.end();
    const setup = createPool({
      url,
      maxConnections: 1,
      idleTimeoutMs: 1000,
      acquireTimeoutMs: 5000,
      statementTimeoutMs: 0,
      applicationName: 'outage-setup',
    });
    await migrate(setup);
    await setup.end();
    const config = loadConfig({
      environment: 'test',
      env: { DATABASE_URL: url },
      overrides: {
        common: {
          database: { pool: { acquire_timeout_ms: 1000 } },
          circuit_breakers: { database: { volume_threshold: 3, reset_timeout_ms: 300 } },
        },
      },
    });
    orchestrator = createOrchestrator({ config });
    await orchestrator.registerTemplate(template);
    worker = createWorker({
      config,
      templates: [template],
      handlers: [
        defineHandler('slowish', async () => new Promise((r) => setTimeout(() => r({ ok: true }), 20))),
      ],
    });
    await orchestrator.start();
    await worker.start();
    apiPool = createPool({
      url,
      maxConnections: 4,
      idleTimeoutMs: 1000,
      acquireTimeoutMs: 1000,
      statementTimeoutMs: 5000,
      applicationName: 'outage-api',
    });
    api = await createApiServer({ config, pool: apiPool, breaker: orchestrator.breaker });
    base = (await api.listen()).url;
  });

  afterAll(async () => {
    await api?.close();
    await apiPool?.end().catch(() => {});
    await worker?.stop().catch(() => {});
    await orchestrator?.stop().catch(() => {});
    await server?.stop();
  });

  it('fails fast while down, reports it, recovers by itself and completes every task', async () => {
    const created = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        orchestrator.createTask({ namespace: 'outage', name: 'chain', context: { i } }),
      ),
    );

    await server.pause();
    // Engine calls now fail; once enough have failed the breakers open and calls fail fast.
    await until(
      async () => {
        await orchestrator
          .createTask({ namespace: 'outage', name: 'chain', context: {} })
          .catch(() => undefined);
        return orchestrator.breaker.state === 'open';
      },
      30_000,
      'the orchestrator breaker to open',
    );
    await expect(
      orchestrator.createTask({ namespace: 'outage', name: 'chain', context: {} }),
    ).rejects.toMatchObject({
      code: 'CIRCUIT_OPEN',
    });
    await until(() => worker.breaker.state === 'open', 30_000, 'the worker breaker to open');

    const health = await fetch(`${base}/health`);
    expect(health.status).toBe(503);
    const report = (await health.json()) as { status: string; circuit_breakers: { state: string }[] };
    expect(report.status).toBe('unhealthy');
    expect(report.circuit_breakers.map((b) => b.state)).toContain('open');
    const refused = await fetch(`${base}/v1/tasks`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ namespace: 'outage', name: 'chain', context: {} }),
    });
    expect(refused.status).toBe(503);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    // Refused either by the back-pressure verdict (which sees the open breaker) or by the breaker itself.
    const refusal = (await refused.json()) as { error: { code: string; message: string } };
    expect(['BACKPRESSURE', 'CIRCUIT_OPEN']).toContain(refusal.error.code);
    expect(refusal.error.message).toMatch(/circuit breaker/);

    await server.resume();
    await until(
      () => orchestrator.breaker.state === 'closed' && worker.breaker.state === 'closed',
      60_000,
      'both breakers to close again',
    );
    expect(orchestrator.breaker.stats().timesOpened).toBeGreaterThanOrEqual(1);

    const check = createPool({
      url,
      maxConnections: 1,
      idleTimeoutMs: 1000,
      acquireTimeoutMs: 5000,
      statementTimeoutMs: 0,
      applicationName: 'outage-check',
    });
    try {
      await until(
        async () => {
          const tasks = await Promise.all(created.map((c) => getTask(check, c.taskUuid)));
          return tasks.every((t) => t?.state === 'complete');
        },
        60_000,
        'every task created before the outage to complete',
      );
      const after = await orchestrator.createTask({
        namespace: 'outage',
        name: 'chain',
        context: { after: true },
      });
      await until(
        async () => (await getTask(check, after.taskUuid))?.state === 'complete',
        30_000,
        'a new task',
      );
      const counts = await check.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM tasker.workflow_steps s JOIN tasker.tasks t USING (task_uuid)
         WHERE t.task_uuid = ANY($1) AND s.state = 'complete' AND s.attempts >= 1`,
        [created.map((c) => c.taskUuid)],
      );
      expect(counts.rows[0]!.n).toBe(30);
    } finally {
      await check.end();
    }
  });
});
