import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { healthBody, readyBody, taskBody, type ApiServer } from '../../src/api/index.js';
import { BoundedChannel, ChannelMonitor } from '../../src/channels/index.js';
import { createPool } from '../../src/db/pool.js';
import { registerTemplate } from '../../src/orchestration/template-registry.js';
import { defineTemplate } from '../../src/templates/index.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { testConfig } from '../support/engine.js';
import { createApiServer } from '../../src/api/index.js';
import { bodyOf, expectError, startApi } from './helpers.js';
import { until } from '../support/wait.js';

const ns = 'api_system';
const template = defineTemplate({ namespace: ns, name: 'one', version: '1.0.0' })
  .step('only', { handler: 'noop' })
  .build();

interface OpenApiLike {
  openapi: string;
  paths: Record<string, Record<string, { operationId: string; responses: Record<string, unknown> }>>;
  components: { schemas: Record<string, unknown> };
}

describe('health, metrics and the OpenAPI document', () => {
  let db: TestDatabase;
  let api: ApiServer;
  const monitor = new ChannelMonitor();
  const channel = new BoundedChannel<number>({
    name: 'test.channel',
    capacity: 4,
    overflowPolicy: 'drop_newest',
  });

  beforeAll(async () => {
    db = await createTestDatabase();
    await registerTemplate(db.pool, template);
    monitor.register(channel);
    api = await startApi(
      db,
      { orchestration: { api: { request_timeout_ms: 500 } } },
      { channelMonitor: monitor },
    );
  });

  afterAll(async () => {
    await api?.close();
    await db?.drop();
  });

  it('GET /health/live and /health/ready', async () => {
    expect((await api.app.inject({ url: '/health/live' })).json()).toEqual({ status: 'ok' });
    const ready = await api.app.inject({ url: '/health/ready' });
    expect(ready.statusCode).toBe(200);
    expect(bodyOf(ready, readyBody)).toEqual({
      status: 'ready',
      checks: { database: { ok: true }, migrations: { ok: true } },
    });
  });

  it('GET /health reports database, pool, channels and event-loop delay', async () => {
    const res = await api.app.inject({ url: '/health' });
    expect(res.statusCode).toBe(200);
    const health = bodyOf(res, healthBody);
    expect(health.status).toBe('healthy');
    expect(health.database.ok).toBe(true);
    expect(health.pool.total).toBeGreaterThanOrEqual(1);
    expect(health.channels).toEqual([
      expect.objectContaining({ name: 'test.channel', capacity: 4, depth: 0 }),
    ]);
    expect(health.event_loop.delay_p99_ms).toBeGreaterThanOrEqual(0);

    // A nearly full channel degrades the process but keeps it serving (200).
    for (let i = 0; i < 4; i++) await channel.send(i);
    const degraded = bodyOf(await api.app.inject({ url: '/health' }), healthBody);
    expect(degraded.status).toBe('degraded');
    expect(degraded.channels[0]?.saturation).toBe(1);
    channel.drain(4);
    // The edge's back-pressure verdict is refreshed on a timer and may have seen the full channel: later tests
    // create tasks, so wait until it has seen the channel drained.
    await until(
      async () => !bodyOf(await api.app.inject({ url: '/health' }), healthBody).backpressure.overloaded,
      'the back-pressure verdict to clear',
    );
  });

  it('GET /metrics is Prometheus text with request durations by route and pool gauges', async () => {
    await api.app.inject({ url: '/v1/tasks' });
    await api.app.inject({ url: '/v1/tasks/not-a-uuid' });
    const res = await api.app.inject({ url: '/metrics' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain/);
    const text = res.body;
    expect(text).toMatch(/^# HELP /m);
    expect(text).toContain('process_cpu_user_seconds_total');
    expect(text).toMatch(
      /tasker_http_request_duration_seconds_count\{method="GET",route="\/v1\/tasks",status="200"\} \d+/,
    );
    expect(text).toMatch(
      /tasker_http_request_duration_seconds_count\{method="GET",route="\/v1\/tasks\/:task_uuid",status="400"\} \d+/,
    );
    expect(text).toMatch(/tasker_db_pool_connections\{state="total"\} \d+/);
    expect(text).toMatch(/tasker_db_pool_connections\{state="waiting"\} \d+/);
    // Every sample line is `name{labels} value` or `name value`.
    for (const line of text.split('\n').filter((l) => l && !l.startsWith('#'))) {
      expect(line).toMatch(/^[a-zA-Z_:][a-zA-Z0-9_:]*(\{.*\})? ([-+0-9.eE]+|NaN|[+-]Inf)$/);
    }
  });

  it('GET /openapi.json lists every route with resolvable references', async () => {
    const res = await api.app.inject({ url: '/openapi.json' });
    expect(res.statusCode).toBe(200);
    const doc = res.json<OpenApiLike>();
    expect(doc.openapi).toBe('3.1.0');
    const listed = Object.entries(doc.paths).flatMap(([path, ops]) =>
      Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`),
    );
    const served = api.routes.map((r) => `${r.method} ${r.url.replace(/:([a-z_]+)/g, '{$1}')}`);
    expect(listed.sort()).toEqual(served.sort());
    for (const must of [
      'POST /v1/tasks',
      'GET /v1/tasks/{task_uuid}/events',
      'PATCH /v1/tasks/{task_uuid}/steps/{step_uuid}',
      'POST /v1/templates/validate',
      'PATCH /v1/dlq/{dlq_entry_uuid}',
      'GET /health/ready',
      'GET /metrics',
      'GET /openapi.json',
    ]) {
      expect(listed).toContain(must);
    }
    const refs = JSON.stringify(doc).match(/"\$ref":"[^"]+"/g) ?? [];
    expect(refs.length).toBeGreaterThan(0);
    for (const ref of refs) {
      const name = /#\/components\/schemas\/([^"]+)/.exec(ref)?.[1];
      expect(name, ref).toBeDefined();
      expect(doc.components.schemas, ref).toHaveProperty(name!);
    }
    expect(doc.paths['/v1/tasks']?.post?.responses).toHaveProperty('201');
    expect(doc.paths['/v1/tasks']?.post?.responses).toHaveProperty('413');
    expect(doc.components.schemas).toHaveProperty('CreateTaskRequest');
    expect(doc.components.schemas).toHaveProperty('Error');
  });

  it('a request over orchestration.api.request_timeout_ms is 503 TIMEOUT with Retry-After', async () => {
    const created = bodyOf(
      await api.app.inject({
        method: 'POST',
        url: '/v1/tasks',
        payload: { namespace: ns, name: 'one', context: {} },
      }),
      taskBody,
    );
    // Hold the task's row lock so cancellation has to wait.
    const client = await db.pool.connect();
    try {
      await client.query('BEGIN');
      await client.query('SELECT 1 FROM tasker.tasks WHERE task_uuid = $1 FOR UPDATE', [created.task_uuid]);
      const res = await api.app.inject({ method: 'DELETE', url: `/v1/tasks/${created.task_uuid}` });
      expectError(res, 503, 'TIMEOUT');
      expect(res.headers['retry-after']).toBe('5');
    } finally {
      await client.query('ROLLBACK');
      client.release();
    }
  });

  it('an unexpected database error is 500 INTERNAL without internals', async () => {
    await db.pool.query('DROP FUNCTION tasker.list_templates()');
    const res = await api.app.inject({ url: '/v1/templates' });
    const error = expectError(res, 500, 'INTERNAL');
    expect(res.body).not.toMatch(/list_templates|function|tasker\./);
    expect(error.details).toBeUndefined();
  });
});

describe('with the database down', () => {
  let db: TestDatabase;
  let api: ApiServer;
  const deadPool = createPool({
    url: 'postgresql://postgres@127.0.0.1:1/nothing',
    maxConnections: 2,
    idleTimeoutMs: 1000,
    acquireTimeoutMs: 1000,
    statementTimeoutMs: 0,
    applicationName: 'tasker-test-dead',
  });

  beforeAll(async () => {
    db = await createTestDatabase();
    api = await createApiServer({ config: testConfig(db.url), pool: deadPool });
  });

  afterAll(async () => {
    await api?.close();
    await deadPool.end();
    await db?.drop();
  });

  it('live stays 200, ready and health are 503, routes are 503 with Retry-After', async () => {
    expect((await api.app.inject({ url: '/health/live' })).statusCode).toBe(200);
    const ready = await api.app.inject({ url: '/health/ready' });
    expect(ready.statusCode).toBe(503);
    expect(bodyOf(ready, readyBody)).toMatchObject({
      status: 'not_ready',
      checks: { database: { ok: false } },
    });
    const health = await api.app.inject({ url: '/health' });
    expect(health.statusCode).toBe(503);
    expect(bodyOf(health, healthBody).status).toBe('unhealthy');
    const res = await api.app.inject({ url: '/v1/tasks' });
    expectError(res, 503, 'SERVICE_UNAVAILABLE');
    expect(res.headers['retry-after']).toBe('5');
  });
});
