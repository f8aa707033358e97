import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  stepBody,
  stepListBody,
  taskBody,
  taskListBody,
  transitionListBody,
  type ApiServer,
} from '../../src/api/index.js';
import { registerTemplate } from '../../src/orchestration/template-registry.js';
import { defineTemplate } from '../../src/templates/index.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { bodyOf, expectError, startApi } from './helpers.js';

const ns = 'api_tasks';
const linear = defineTemplate({ namespace: ns, name: 'linear', version: '1.0.0' })
  .step('first', { handler: 'noop' })
  .step('second', { handler: 'noop', dependsOn: ['first'] })
  .build();
const keyed = defineTemplate({
  namespace: ns,
  name: 'keyed',
  version: '1.0.0',
  identityStrategy: 'caller_provided',
})
  .step('only', { handler: 'noop' })
  .build();
const strict = defineTemplate({ namespace: ns, name: 'strict', version: '1.0.0', identityStrategy: 'strict' })
  .step('only', { handler: 'noop' })
  .build();

describe('task routes', () => {
  let db: TestDatabase;
  let api: ApiServer;

  beforeAll(async () => {
    db = await createTestDatabase();
    for (const t of [linear, keyed, strict]) await registerTemplate(db.pool, t);
    // A small body limit so the 413 path is cheap to exercise.
    api = await startApi(db, { orchestration: { api: { body_limit_bytes: 4096 } } });
  });

  afterAll(async () => {
    await api?.close();
    await db?.drop();
  });

  async function create(payload: Record<string, unknown>) {
    return api.app.inject({ method: 'POST', url: '/v1/tasks', payload });
  }

  describe('POST /v1/tasks', () => {
    it('creates a task: 201, Location, the task with its steps', async () => {
      const correlation = randomUUID();
      const res = await create({
        namespace: ns,
        name: 'linear',
        context: { order: 42 },
        priority: 5,
        tags: ['a', 'b'],
        initiator: 'test',
        source_system: 'vitest',
        reason: 'contract',
        correlation_id: correlation,
      });
      expect(res.statusCode, res.body).toBe(201);
      const task = bodyOf(res, taskBody);
      expect(res.headers.location).toBe(`/v1/tasks/${task.task_uuid}`);
      expect(task).toMatchObject({
        namespace: ns,
        name: 'linear',
        version: '1.0.0',
        context: { order: 42 },
        priority: 5,
        tags: ['a', 'b'],
        correlation_id: correlation,
        initiator: 'test',
        source_system: 'vitest',
        reason: 'contract',
        steps_total: 2,
      });
      expect(task.steps.map((s) => [s.name, s.readiness])).toEqual([
        ['first', 'running'],
        ['second', 'waiting_for_dependencies'],
      ]);
      expect(task.steps[1]!.depends_on).toEqual(['first']);
    });

    it('returns the existing task (200) for a repeated idempotency key', async () => {
      const first = await create({ namespace: ns, name: 'keyed', context: { n: 1 }, idempotency_key: 'k-1' });
      expect(first.statusCode, first.body).toBe(201);
      const again = await create({ namespace: ns, name: 'keyed', context: { n: 2 }, idempotency_key: 'k-1' });
      expect(again.statusCode, again.body).toBe(200);
      expect(bodyOf(again, taskBody).task_uuid).toBe(bodyOf(first, taskBody).task_uuid);
      expect(again.headers.location).toBe(first.headers.location);
    });

    it('refuses a strict duplicate with 409 TASK_DUPLICATE naming the existing task', async () => {
      const first = await create({ namespace: ns, name: 'strict', context: { a: 1, b: 2 } });
      expect(first.statusCode).toBe(201);
      const dup = await create({ namespace: ns, name: 'strict', context: { b: 2, a: 1 } });
      const error = expectError(dup, 409, 'TASK_DUPLICATE');
      expect(error.details?.task_uuid).toBe(bodyOf(first, taskBody).task_uuid);
    });

    it('caller_provided without a key is a 400', async () => {
      expectError(await create({ namespace: ns, name: 'keyed', context: {} }), 400, 'TASK_INVALID');
    });

    it('malformed JSON is 400 INVALID_JSON', async () => {
      const res = await api.app.inject({
        method: 'POST',
        url: '/v1/tasks',
        headers: { 'content-type': 'application/json' },
        payload: '{"namespace": ',
      });
      expectError(res, 400, 'INVALID_JSON');
    });

    it('an empty JSON body is 400 INVALID_JSON', async () => {
      const res = await api.app.inject({
        method: 'POST',
        url: '/v1/tasks',
        headers: { 'content-type': 'application/json' },
        payload: '',
      });
      expectError(res, 400, 'INVALID_JSON');
    });

    it('prototype-poisoning JSON is refused as 400, never 500', async () => {
      const res = await api.app.inject({
        method: 'POST',
        url: '/v1/tasks',
        headers: { 'content-type': 'application/json' },
        payload: `{"namespace":"${ns}","name":"linear","context":{},"__proto__":{"x":1}}`,
      });
      expect(res.statusCode).toBe(400);
    });

    it.each([
      ['wrong type', { namespace: ns, name: 'linear', context: {}, priority: 'high' }, 'priority'],
      ['priority out of range', { namespace: ns, name: 'linear', context: {}, priority: 101 }, 'priority'],
      ['non-integer priority', { namespace: ns, name: 'linear', context: {}, priority: 1.5 }, 'priority'],
      ['context an array', { namespace: ns, name: 'linear', context: [1, 2] }, 'context'],
      ['context a string', { namespace: ns, name: 'linear', context: 'x' }, 'context'],
      ['context null', { namespace: ns, name: 'linear', context: null }, 'context'],
      ['context missing', { namespace: ns, name: 'linear' }, 'context'],
      ['namespace missing', { name: 'linear', context: {} }, 'namespace'],
      ['empty name', { namespace: ns, name: '', context: {} }, 'name'],
      ['unknown field', { namespace: ns, name: 'linear', context: {}, colour: 'red' }, 'colour'],
      ['tags not strings', { namespace: ns, name: 'linear', context: {}, tags: [1] }, 'tags[0]'],
      [
        'bad correlation id',
        { namespace: ns, name: 'linear', context: {}, correlation_id: 'nope' },
        'correlation_id',
      ],
      [
        'empty idempotency key',
        { namespace: ns, name: 'linear', context: {}, idempotency_key: '' },
        'idempotency_key',
      ],
      [
        'long idempotency key',
        { namespace: ns, name: 'linear', context: {}, idempotency_key: 'k'.repeat(256) },
        'idempotency_key',
      ],
    ])('%s is 400 VALIDATION_FAILED naming the field', async (_label, payload, field) => {
      const error = expectError(await create(payload), 400, 'VALIDATION_FAILED');
      const issues = error.details?.issues as { path: string; message: string }[];
      expect(issues.map((i) => i.path)).toContain(field);
      expect(error.message).toContain(field);
    });

    it('a body that is not an object is 400', async () => {
      const res = await api.app.inject({
        method: 'POST',
        url: '/v1/tasks',
        headers: { 'content-type': 'application/json' },
        payload: '[1,2,3]',
      });
      expectError(res, 400, 'VALIDATION_FAILED');
    });

    it('an unknown template is 404 TEMPLATE_NOT_FOUND', async () => {
      expectError(await create({ namespace: ns, name: 'nope', context: {} }), 404, 'TEMPLATE_NOT_FOUND');
      expectError(
        await create({ namespace: ns, name: 'linear', version: '9.9.9', context: {} }),
        404,
        'TEMPLATE_NOT_FOUND',
      );
    });

    it('a wrong content type is 415', async () => {
      for (const type of ['text/plain', 'application/xml', 'application/x-www-form-urlencoded']) {
        const res = await api.app.inject({
          method: 'POST',
          url: '/v1/tasks',
          headers: { 'content-type': type },
          payload: 'namespace=x',
        });
        expectError(res, 415, 'UNSUPPORTED_MEDIA_TYPE');
      }
    });

    it('a body over the limit is 413 PAYLOAD_TOO_LARGE', async () => {
      const res = await create({ namespace: ns, name: 'linear', context: { blob: 'x'.repeat(10_000) } });
      expectError(res, 413, 'PAYLOAD_TOO_LARGE');
    });
  });

  describe('GET /v1/tasks', () => {
    let uuids: string[];

    beforeAll(async () => {
      uuids = [];
      for (let i = 0; i < 5; i++) {
        const res = await create({
          namespace: ns,
          name: 'linear',
          context: { i },
          tags: i % 2 ? ['odd'] : ['even'],
        });
        uuids.push(bodyOf(res, taskBody).task_uuid);
      }
    });

    it('lists newest first with cursor pagination', async () => {
      const seen: string[] = [];
      let cursor: string | null = null;
      do {
        const url: string = `/v1/tasks?namespace=${ns}&name=linear&limit=2${cursor ? `&cursor=${cursor}` : ''}`;
        const page = bodyOf(await api.app.inject({ url }), taskListBody);
        expect(page.items.length).toBeLessThanOrEqual(2);
        seen.push(...page.items.map((t) => t.task_uuid));
        cursor = page.next_cursor;
      } while (cursor);
      expect(new Set(seen).size).toBe(seen.length);
      // The five created here come first, newest first.
      expect(seen.slice(0, 5)).toEqual([...uuids].reverse());
    });

    it('filters by tag (repeatable), state and time range', async () => {
      const odd = bodyOf(await api.app.inject({ url: `/v1/tasks?namespace=${ns}&tag=odd` }), taskListBody);
      expect(odd.items.map((t) => t.task_uuid).sort()).toEqual([uuids[1], uuids[3]].sort());
      const both = bodyOf(
        await api.app.inject({ url: `/v1/tasks?namespace=${ns}&tag=odd&tag=even` }),
        taskListBody,
      );
      expect(both.items).toEqual([]);
      const states = bodyOf(
        await api.app.inject({ url: `/v1/tasks?namespace=${ns}&state=complete,cancelled` }),
        taskListBody,
      );
      expect(states.items.every((t) => t.state === 'complete' || t.state === 'cancelled')).toBe(true);
      const future = new Date(Date.now() + 3_600_000).toISOString();
      const none = bodyOf(
        await api.app.inject({ url: `/v1/tasks?created_from=${encodeURIComponent(future)}` }),
        taskListBody,
      );
      expect(none.items).toEqual([]);
      const all = bodyOf(
        await api.app.inject({
          url: `/v1/tasks?namespace=${ns}&created_to=${encodeURIComponent(future)}&limit=200`,
        }),
        taskListBody,
      );
      expect(all.items.length).toBeGreaterThanOrEqual(5);
    });

    it.each([
      ['limit=0', 'limit'],
      ['limit=201', 'limit'],
      ['limit=abc', 'limit'],
      ['state=running,bogus', 'state'],
      ['created_from=yesterday', 'created_from'],
      ['sort=asc', 'sort'],
    ])('?%s is 400 naming the parameter', async (qs, field) => {
      const error = expectError(await api.app.inject({ url: `/v1/tasks?${qs}` }), 400, 'VALIDATION_FAILED');
      expect((error.details?.issues as { path: string }[]).map((i) => i.path)).toContain(field);
    });

    it('a forged cursor is 400, not 500', async () => {
      const res = await api.app.inject({ url: '/v1/tasks?cursor=not-a-cursor' });
      expect(res.statusCode).toBe(400);
    });
  });

  describe('one task', () => {
    let task: ReturnType<typeof taskBody.parse>;

    beforeAll(async () => {
      task = bodyOf(await create({ namespace: ns, name: 'linear', context: { one: true } }), taskBody);
    });

    it('GET /v1/tasks/{uuid} returns the task with its steps', async () => {
      const res = await api.app.inject({ url: `/v1/tasks/${task.task_uuid}` });
      expect(bodyOf(res, taskBody)).toMatchObject({ task_uuid: task.task_uuid, context: { one: true } });
    });

    it('an invalid uuid is 400 naming the field; an unknown one is 404', async () => {
      const bad = expectError(
        await api.app.inject({ url: '/v1/tasks/not-a-uuid' }),
        400,
        'VALIDATION_FAILED',
      );
      expect(bad.message).toContain('task_uuid');
      expectError(await api.app.inject({ url: `/v1/tasks/${randomUUID()}` }), 404, 'TASK_NOT_FOUND');
    });

    it('lists the steps and reads one', async () => {
      const list = bodyOf(await api.app.inject({ url: `/v1/tasks/${task.task_uuid}/steps` }), stepListBody);
      expect(list.items.map((s) => s.name)).toEqual(['first', 'second']);
      const first = list.items[0]!;
      const one = bodyOf(
        await api.app.inject({ url: `/v1/tasks/${task.task_uuid}/steps/${first.step_uuid}` }),
        stepBody,
      );
      expect(one).toEqual(first);
      expectError(
        await api.app.inject({ url: `/v1/tasks/${task.task_uuid}/steps/${randomUUID()}` }),
        404,
        'STEP_NOT_FOUND',
      );
      expectError(await api.app.inject({ url: `/v1/tasks/${randomUUID()}/steps` }), 404, 'TASK_NOT_FOUND');
      const bad = expectError(
        await api.app.inject({ url: `/v1/tasks/${task.task_uuid}/steps/xyz` }),
        400,
        'VALIDATION_FAILED',
      );
      expect(bad.message).toContain('step_uuid');
    });

    it('returns transitions of the task and of a step, oldest first', async () => {
      const all = bodyOf(
        await api.app.inject({ url: `/v1/tasks/${task.task_uuid}/transitions` }),
        transitionListBody,
      );
      expect(all.items.some((t) => t.entity === 'task')).toBe(true);
      expect(all.items.some((t) => t.entity === 'step')).toBe(true);
      const times = all.items.map((t) => Date.parse(t.created_at));
      expect([...times].sort((a, b) => a - b)).toEqual(times);
      expect(new Set(all.items.map((t) => t.key)).size).toBe(all.items.length);

      const first = task.steps[0]!;
      const steps = bodyOf(
        await api.app.inject({ url: `/v1/tasks/${task.task_uuid}/steps/${first.step_uuid}/transitions` }),
        transitionListBody,
      );
      expect(steps.items.length).toBeGreaterThan(0);
      expect(steps.items.every((t) => t.step_uuid === first.step_uuid)).toBe(true);
      expectError(
        await api.app.inject({ url: `/v1/tasks/${randomUUID()}/transitions` }),
        404,
        'TASK_NOT_FOUND',
      );
    });

    it('PATCH refuses an action the step state does not allow with 409', async () => {
      const second = task.steps[1]!;
      const res = await api.app.inject({
        method: 'PATCH',
        url: `/v1/tasks/${task.task_uuid}/steps/${second.step_uuid}`,
        payload: { action_type: 'reset_for_retry', reason: 'not failed yet' },
      });
      expectError(res, 409, 'INVALID_TRANSITION');
    });

    it.each([
      [{ action_type: 'explode', reason: 'x' }, 'action_type'],
      [{ action_type: 'resolve_manually' }, 'reason'],
      [{ action_type: 'complete_manually', reason: 'done by hand' }, 'result'],
      [{ action_type: 'resolve_manually', reason: 'x', extra: 1 }, 'extra'],
    ])('PATCH with %j is 400 naming %s', async (payload, field) => {
      const first = task.steps[0]!;
      const res = await api.app.inject({
        method: 'PATCH',
        url: `/v1/tasks/${task.task_uuid}/steps/${first.step_uuid}`,
        payload,
      });
      const error = expectError(res, 400, 'VALIDATION_FAILED');
      expect((error.details?.issues as { path: string }[]).map((i) => i.path)).toContain(field);
    });

    it('PATCH complete_manually records the result and the operator', async () => {
      const fresh = bodyOf(
        await create({ namespace: ns, name: 'linear', context: { manual: true } }),
        taskBody,
      );
      const first = fresh.steps[0]!;
      const res = await api.app.inject({
        method: 'PATCH',
        url: `/v1/tasks/${fresh.task_uuid}/steps/${first.step_uuid}`,
        payload: { action_type: 'complete_manually', reason: 'done by hand', result: { ok: 1 } },
      });
      const step = bodyOf(res, stepBody);
      expect(step.state).toBe('complete');
      expect(step.readiness).toBe('done');
      expect(step.result).toEqual({ ok: 1 });
      const trail = bodyOf(
        await api.app.inject({ url: `/v1/tasks/${fresh.task_uuid}/steps/${first.step_uuid}/transitions` }),
        transitionListBody,
      );
      // With auth off the operator is 'anonymous'.
      expect(trail.items.at(-1)).toMatchObject({
        to_state: 'complete',
        metadata: { action: 'complete_manually', by: 'anonymous', reason: 'done by hand' },
      });
      // The dependent became ready.
      const after = bodyOf(await api.app.inject({ url: `/v1/tasks/${fresh.task_uuid}` }), taskBody);
      expect(after.steps[1]!.readiness).not.toBe('waiting_for_dependencies');
    });

    it('DELETE cancels (200) and a second DELETE is 409', async () => {
      const victim = bodyOf(
        await create({ namespace: ns, name: 'linear', context: { cancel: true } }),
        taskBody,
      );
      const res = await api.app.inject({
        method: 'DELETE',
        url: `/v1/tasks/${victim.task_uuid}?reason=test`,
      });
      const cancelled = bodyOf(res, taskBody);
      expect(cancelled.state).toBe('cancelled');
      expect(cancelled.steps.every((s) => s.state === 'cancelled' && s.readiness === 'cancelled')).toBe(true);
      expectError(
        await api.app.inject({ method: 'DELETE', url: `/v1/tasks/${victim.task_uuid}` }),
        409,
        'INVALID_TRANSITION',
      );
      expectError(
        await api.app.inject({ method: 'DELETE', url: `/v1/tasks/${randomUUID()}` }),
        404,
        'TASK_NOT_FOUND',
      );
      expectError(await api.app.inject({ method: 'DELETE', url: '/v1/tasks/123' }), 400, 'VALIDATION_FAILED');
    });
  });

  describe('hostile input never yields a 500', () => {
    it.each([
      ['NUL in context', `{"namespace":"${ns}","name":"linear","context":{"a":"x\\u0000y"}}`, 'context.a'],
      ['NUL in a key', `{"namespace":"${ns}","name":"linear","context":{"k\\u0000":1}}`, 'context.k\u0000'],
      ['NUL in namespace', `{"namespace":"a\\u0000","name":"linear","context":{}}`, 'namespace'],
    ])('%s is 400 naming the field', async (_label, payload, field) => {
      const res = await api.app.inject({
        method: 'POST',
        url: '/v1/tasks',
        headers: { 'content-type': 'application/json' },
        payload,
      });
      const error = expectError(res, 400, 'VALIDATION_FAILED');
      expect((error.details?.issues as { path: string }[])[0]?.path).toBe(field);
    });

    it('deeply nested context is stored or refused, never a 500', async () => {
      const res = await api.app.inject({
        method: 'POST',
        url: '/v1/tasks',
        headers: { 'content-type': 'application/json' },
        payload: `{"namespace":"${ns}","name":"linear","context":{"d":${'['.repeat(1500)}${']'.repeat(1500)}}}`,
      });
      expect(res.statusCode).toBeLessThan(500);
    });

    it.each([
      '/v1/tasks?created_from=0000-01-01T00:00:00Z',
      '/v1/tasks?created_to=2024-13-01T00:00:00Z',
      '/v1/tasks?namespace=%00',
      '/v1/tasks?limit=1&limit=2',
      '/v1/tasks?limit=1e9',
      '/v1/templates/a%00/b',
    ])('GET %s is 400', async (url) => {
      expectError(await api.app.inject({ url }), 400, 'VALIDATION_FAILED');
    });

    it('no route answers garbage with a 5xx', async () => {
      const bodies: (string | undefined)[] = [
        undefined,
        '',
        'null',
        '"text"',
        '42',
        '[]',
        '{',
        '{"a":"\\u0000"}',
        `{"d":${'['.repeat(2000)}${']'.repeat(2000)}}`,
        '{"__proto__":{"polluted":true}}',
      ];
      for (const route of api.routes) {
        const url = route.url
          .replace(/:(task_uuid|step_uuid|dlq_entry_uuid)/g, () => randomUUID())
          .replace(':namespace', 'ns')
          .replace(':name', 'n');
        for (const payload of route.method === 'GET' || route.method === 'DELETE' ? [undefined] : bodies) {
          const res = await api.app.inject({
            method: route.method,
            url,
            ...(payload === undefined ? {} : { payload, headers: { 'content-type': 'application/json' } }),
          });
          expect(
            res.statusCode,
            `${route.method} ${route.url} <- ${payload?.slice(0, 30)}: ${res.body}`,
          ).toBeLessThan(500);
          if (res.statusCode >= 400) {
            expect(res.json<{ error: { code: string } }>().error.code).toBeTypeOf('string');
          }
        }
      }
    });
  });

  it('an unknown route or method is 404 NOT_FOUND in the error shape', async () => {
    expectError(await api.app.inject({ url: '/v1/nothing' }), 404, 'NOT_FOUND');
    expectError(await api.app.inject({ method: 'PUT', url: '/v1/tasks' }), 404, 'NOT_FOUND');
    expectError(await api.app.inject({ url: '/' }), 404, 'NOT_FOUND');
  });

  it('every response carries a request id', async () => {
    const res = await api.app.inject({ url: '/health/live' });
    expect(res.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });
});
