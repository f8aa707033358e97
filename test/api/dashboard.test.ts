/**
 * The dashboard's reads: `GET /v1/whoami`, `GET /v1/overview` and `GET /v1/templates/{ns}/{name}/runs`, with a
 * real worker settling tasks, permissions and bad input.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { overviewBody, taskBody, templateRunsBody, whoamiBody, type ApiServer } from '../../src/api/index.js';
import { PermanentError } from '../../src/errors.js';
import { batches } from '../../src/worker/dynamic.js';
import { defineTemplate } from '../../src/templates/index.js';
import { defineHandler } from '../../src/worker/handler.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { startEngine, waitForTask, type Engine } from '../support/engine.js';
import { bodyOf, expectError, startApi } from './helpers.js';

const ns = 'api_dash';
const flow = defineTemplate({ namespace: ns, name: 'flow', version: '1.0.0' })
  .step('fetch', { handler: 'ok' })
  .step('check', { handler: 'check', dependsOn: ['fetch'], retry: { maxAttempts: 1 } })
  .step('store', { handler: 'ok', dependsOn: ['check'] })
  .build();
const flowV2 = defineTemplate({ namespace: ns, name: 'flow', version: '2.0.0' })
  .step('fetch', { handler: 'ok' })
  .step('store', { handler: 'ok', dependsOn: ['fetch'] })
  .build();
const batch = defineTemplate({ namespace: ns, name: 'batch', version: '1.0.0' })
  .step('plan', { handler: 'plan', type: 'batchable' })
  .step('work', {
    handler: 'work',
    type: 'batch_worker',
    dependsOn: ['plan'],
    batch: { batchSize: 10, failureStrategy: 'continue' },
  })
  .step('sum', { handler: 'ok', type: 'deferred_convergence', dependsOn: ['work'] })
  .build();

const handlers = [
  defineHandler('ok', () => ({ ok: true })),
  defineHandler('check', (ctx) => {
    if ((ctx.context as { bad?: boolean }).bad) throw new PermanentError('bad input');
    return { checked: true };
  }),
  defineHandler('plan', () => batches({ totalItems: 30, batchSize: 10 })),
  defineHandler('work', (ctx) => {
    if (ctx.batch?.index === 1) throw new PermanentError('batch 1 is broken');
    return { done: true };
  }),
];

const ADMIN = { 'x-api-key': 'admin-key' };
const READER = { 'x-api-key': 'reader-key' };

describe('dashboard reads', () => {
  let db: TestDatabase;
  let engine: Engine;
  let api: ApiServer;
  let open: ApiServer;
  const tasks: Record<string, string> = {};

  beforeAll(async () => {
    db = await createTestDatabase();
    engine = await startEngine(db, { templates: [flow, flowV2, batch], handlers });
    api = await startApi(db, {
      orchestration: {
        api: {
          auth: {
            enabled: true,
            api_keys: [
              { name: 'admin', key: 'admin-key', permissions: ['*'] },
              { name: 'reader', key: 'reader-key', permissions: ['tasks:read', 'steps:read'] },
              { name: 'templates-only', key: 'templates-key', permissions: ['templates:read'] },
            ],
          },
        },
      },
    });
    open = await startApi(db);
    const create = async (name: string, version: string, context: Record<string, unknown>) => {
      const res = await api.app.inject({
        method: 'POST',
        url: '/v1/tasks',
        headers: ADMIN,
        payload: { namespace: ns, name, version, context },
      });
      expect(res.statusCode, res.body).toBe(201);
      const uuid = bodyOf(res, taskBody).task_uuid;
      await waitForTask(db.pool, uuid);
      return uuid;
    };
    tasks.good = await create('flow', '1.0.0', {});
    tasks.bad = await create('flow', '1.0.0', { bad: true });
    tasks.v2 = await create('flow', '2.0.0', {});
    tasks.batch = await create('batch', '1.0.0', {});
  });
  afterAll(async () => {
    await api?.close();
    await open?.close();
    await engine?.stop();
    await db?.drop();
  });

  describe('GET /v1/whoami', () => {
    it('names the caller, how it authenticated and its permissions', async () => {
      const reader = bodyOf(await api.app.inject({ url: '/v1/whoami', headers: READER }), whoamiBody);
      expect(reader).toEqual({
        name: 'reader',
        method: 'api_key',
        permissions: ['steps:read', 'tasks:read'],
      });
      const admin = bodyOf(await api.app.inject({ url: '/v1/whoami', headers: ADMIN }), whoamiBody);
      expect(admin).toEqual({ name: 'admin', method: 'api_key', permissions: ['*'] });
      // Any valid key may ask, whatever it holds.
      const narrow = await api.app.inject({ url: '/v1/whoami', headers: { 'x-api-key': 'templates-key' } });
      expect(bodyOf(narrow, whoamiBody).permissions).toEqual(['templates:read']);
    });

    it('refuses a wrong key (how the dashboard checks a key at sign-in); auth off is anonymous with *', async () => {
      expectError(
        await api.app.inject({ url: '/v1/whoami', headers: { 'x-api-key': 'nope' } }),
        401,
        'UNAUTHENTICATED',
      );
      expectError(await api.app.inject({ url: '/v1/whoami' }), 401, 'UNAUTHENTICATED');
      const anonymous = bodyOf(await open.app.inject({ url: '/v1/whoami' }), whoamiBody);
      expect(anonymous).toEqual({ name: 'anonymous', method: 'none', permissions: ['*'] });
    });
  });

  describe('GET /v1/overview', () => {
    it('counts tasks created and finished per bucket, tasks by state, queues and open dead letters', async () => {
      const res = await api.app.inject({ url: '/v1/overview', headers: READER });
      const o = bodyOf(res, overviewBody);
      expect(o.window_minutes).toBe(60);
      expect(o.bucket_minutes).toBe(1);
      expect(o.buckets.length).toBeGreaterThanOrEqual(60);
      expect(o.buckets.length).toBeLessThanOrEqual(61);
      const starts = o.buckets.map((b) => Date.parse(b.start));
      for (let i = 1; i < starts.length; i++) expect(starts[i]! - starts[i - 1]!).toBe(60_000);
      for (const s of starts) expect(s % 60_000).toBe(0);
      const sum = (k: 'created' | 'completed' | 'failed' | 'cancelled') =>
        o.buckets.reduce((n, b) => n + b[k], 0);
      expect(sum('created')).toBe(4);
      // good, v2 and the batch task (a tolerated batch failure does not fail it) completed; bad failed.
      expect(sum('completed')).toBe(3);
      expect(sum('failed')).toBe(1);
      expect(sum('cancelled')).toBe(0);
      expect(o.tasks_by_state).toMatchObject({ error: 1, steps_in_process: 0, blocked_by_failures: 0 });
      expect(Object.keys(o.tasks_by_state)).toHaveLength(9);
      expect(o.dlq_open).toBe(1);
      const queues = o.queue_depths.map((q) => q.queue);
      expect(queues).toContain(`worker_${ns}_queue`);
      for (const q of o.queue_depths) expect(q.depth).toBeGreaterThanOrEqual(q.visible);
    });

    it('takes a window and a bucket length; the default splits the window into at most 60 buckets', async () => {
      const day = bodyOf(
        await api.app.inject({ url: '/v1/overview', query: { window_minutes: '1440' }, headers: READER }),
        overviewBody,
      );
      expect(day.bucket_minutes).toBe(24);
      expect(day.buckets.length).toBeLessThanOrEqual(61);
      expect(day.buckets.reduce((n, b) => n + b.created, 0)).toBe(4);
      const custom = bodyOf(
        await api.app.inject({
          url: '/v1/overview',
          query: { window_minutes: '120', bucket_minutes: '15' },
          headers: READER,
        }),
        overviewBody,
      );
      expect(custom.bucket_minutes).toBe(15);
      expect(custom.buckets.length).toBeGreaterThanOrEqual(8);
      expect(custom.buckets.length).toBeLessThanOrEqual(9);
    });

    it('refuses bad windows and buckets (400) and callers without tasks:read (403)', async () => {
      const queries: Record<string, string>[] = [
        { window_minutes: '0' },
        { window_minutes: '10081' },
        { window_minutes: 'soon' },
        { window_minutes: '60', bucket_minutes: '61' },
        { window_minutes: '10080', bucket_minutes: '1' },
        { bucket_minutes: '0' },
        { colour: 'red' },
      ];
      for (const query of queries) {
        expectError(
          await api.app.inject({ url: '/v1/overview', query, headers: READER }),
          400,
          'VALIDATION_FAILED',
        );
      }
      expectError(
        await api.app.inject({ url: '/v1/overview', headers: { 'x-api-key': 'templates-key' } }),
        403,
        'FORBIDDEN',
      );
    });
  });

  describe('GET /v1/templates/{namespace}/{name}/runs', () => {
    it("lists the version's runs newest first with every step's state, uuid and attempts", async () => {
      const res = await api.app.inject({
        url: `/v1/templates/${ns}/flow/runs`,
        query: { version: '1.0.0' },
        headers: READER,
      });
      const body = bodyOf(res, templateRunsBody);
      expect(body.version).toBe('1.0.0');
      expect(body.steps).toEqual(['fetch', 'check', 'store']);
      expect(body.runs.map((r) => r.task_uuid)).toEqual([tasks.bad, tasks.good]);
      const [bad, good] = body.runs;
      expect(bad!.state).toBe('error');
      expect(bad!.completed_at).not.toBeNull();
      expect(bad!.steps).toMatchObject({
        fetch: { state: 'complete', attempts: 1 },
        check: { state: 'error', attempts: 1 },
        store: { state: 'pending', attempts: 0 },
      });
      expect(good!.steps.store).toMatchObject({ state: 'complete', attempts: 1 });
      const view = await api.app.inject({ url: `/v1/tasks/${tasks.bad}`, headers: ADMIN });
      const check = bodyOf(view, taskBody).steps.find((s) => s.name === 'check')!;
      expect(bad!.steps.check!.step_uuid).toBe(check.step_uuid);
    });

    it('defaults to the highest version and takes a limit', async () => {
      const latest = bodyOf(
        await api.app.inject({ url: `/v1/templates/${ns}/flow/runs`, headers: READER }),
        templateRunsBody,
      );
      expect(latest.version).toBe('2.0.0');
      expect(latest.steps).toEqual(['fetch', 'store']);
      expect(latest.runs.map((r) => r.task_uuid)).toEqual([tasks.v2]);
      const one = bodyOf(
        await api.app.inject({
          url: `/v1/templates/${ns}/flow/runs`,
          query: { version: '1.0.0', limit: '1' },
          headers: READER,
        }),
        templateRunsBody,
      );
      expect(one.runs.map((r) => r.task_uuid)).toEqual([tasks.bad]);
    });

    it('summarises batch instances under their blueprint: the most pressing state, the instance count', async () => {
      const body = bodyOf(
        await api.app.inject({ url: `/v1/templates/${ns}/batch/runs`, headers: READER }),
        templateRunsBody,
      );
      expect(body.steps).toEqual(['plan', 'work', 'sum']);
      const [run] = body.runs;
      expect(Object.keys(run!.steps).sort()).toEqual(['plan', 'sum', 'work']);
      expect(run!.steps.work).toMatchObject({ state: 'error', instances: 3, attempts: 1 });
      const view = bodyOf(
        await api.app.inject({ url: `/v1/tasks/${tasks.batch}`, headers: ADMIN }),
        taskBody,
      );
      expect(run!.steps.work!.step_uuid).toBe(view.steps.find((s) => s.name === 'work_001')!.step_uuid);
      expect(run!.steps.sum).toMatchObject({ state: 'complete' });
      expect(run!.steps.plan!.instances).toBeUndefined();
    });

    it('refuses an unknown template (404), a bad limit (400) and callers without tasks:read (403)', async () => {
      expectError(
        await api.app.inject({ url: `/v1/templates/${ns}/nope/runs`, headers: READER }),
        404,
        'TEMPLATE_NOT_FOUND',
      );
      expectError(
        await api.app.inject({
          url: `/v1/templates/${ns}/flow/runs`,
          query: { version: '9.9.9' },
          headers: READER,
        }),
        404,
        'TEMPLATE_NOT_FOUND',
      );
      for (const limit of ['0', '101', 'all']) {
        expectError(
          await api.app.inject({ url: `/v1/templates/${ns}/flow/runs`, query: { limit }, headers: READER }),
          400,
          'VALIDATION_FAILED',
        );
      }
      expectError(
        await api.app.inject({
          url: `/v1/templates/${ns}/flow/runs`,
          headers: { 'x-api-key': 'templates-key' },
        }),
        403,
        'FORBIDDEN',
      );
    });
  });
});
