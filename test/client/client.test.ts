import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SignJWT } from 'jose';
import {
  TaskerAbortError,
  TaskerClient,
  TaskerConflictError,
  TaskerForbiddenError,
  TaskerNetworkError,
  TaskerNotFoundError,
  TaskerTimeoutError,
  TaskerUnauthorizedError,
  TaskerValidationError,
  type TaskEvent,
  type TransitionBody,
} from '../../src/client/index.js';
import { PermanentError } from '../../src/errors.js';
import { defineTemplate } from '../../src/templates/index.js';
import { defineHandler } from '../../src/worker/handler.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { startStack, type Stack } from './helpers.js';
import { closedPort, startProxy } from './proxy.js';

const ns = 'client_e2e';
const linear = defineTemplate({ namespace: ns, name: 'linear', version: '1.0.0' })
  .step('a', { handler: 'ok' })
  .step('b', { handler: 'ok', dependsOn: ['a'] })
  .step('c', { handler: 'ok', dependsOn: ['b'] })
  .build();
const keyed = defineTemplate({
  namespace: ns,
  name: 'keyed',
  version: '1.0.0',
  identityStrategy: 'caller_provided',
})
  .step('only', { handler: 'ok' })
  .build();
const fragile = defineTemplate({ namespace: ns, name: 'fragile', version: '1.0.0' })
  .step('first', { handler: 'ok' })
  .step('flaky', { handler: 'flaky', dependsOn: ['first'], retry: { maxAttempts: 1 } })
  .step('last', { handler: 'echo', dependsOn: ['flaky'] })
  .build();
const slow = defineTemplate({ namespace: ns, name: 'slow', version: '1.0.0' })
  .step('waits', { handler: 'waits' })
  .step('never', { handler: 'ok', dependsOn: ['waits'] })
  .build();

const handlers = [
  defineHandler('ok', () => ({ ok: true })),
  defineHandler('flaky', () => {
    throw new PermanentError('upstream said no', { code: 'UPSTREAM' });
  }),
  defineHandler('echo', (ctx) => ({ saw: ctx.dependencyResults.flaky ?? null })),
  defineHandler(
    'waits',
    (ctx) =>
      new Promise((_, reject) => ctx.signal.addEventListener('abort', () => reject(new Error('aborted')))),
  ),
];

const VALID_YAML = `
name: registered_by_client
namespace_name: ${ns}
version: 1.0.0
steps:
  - name: one
    handler: { callable: ok }
  - name: two
    depends_on: [one]
    handler: { callable: ok }
`;

const BROKEN_YAML = `
name: broken
namespace_name: ${ns}
version: 1.0.0
steps:
  - name: one
    handler: { callable: ok }
    depends_on: [nowhere]
`;

describe('TaskerClient against a real API server', () => {
  let db: TestDatabase;
  let stack: Stack;
  let client: TaskerClient;

  beforeAll(async () => {
    db = await createTestDatabase();
    stack = await startStack(db, { templates: [linear, keyed, fragile, slow], handlers });
    client = new TaskerClient({ baseUrl: stack.url, retry: { baseDelayMs: 10 } });
  });
  afterAll(async () => {
    await stack?.stop();
    await db?.drop();
  });

  describe('tasks', () => {
    it('createTask returns 201 created, then getTask reads it back', async () => {
      const { task, created } = await client.createTask({
        namespace: ns,
        name: 'linear',
        context: { n: 1 },
        tags: ['client'],
        priority: 3,
      });
      expect(created).toBe(true);
      expect(task.steps.map((s) => s.name)).toEqual(['a', 'b', 'c']);
      const read = await client.getTask(task.task_uuid);
      expect(read.task_uuid).toBe(task.task_uuid);
      expect(read.context).toEqual({ n: 1 });
      expect(read.priority).toBe(3);
    });

    it('createTask with an idempotency key returns the existing task (created: false) the second time', async () => {
      const body = { namespace: ns, name: 'keyed', context: { x: 1 }, idempotency_key: `k-${randomUUID()}` };
      const first = await client.createTask(body);
      const second = await client.createTask(body);
      expect(first.created).toBe(true);
      expect(second.created).toBe(false);
      expect(second.task.task_uuid).toBe(first.task.task_uuid);
    });

    it('listTasks filters, and iterateTasks follows next_cursor over every page', async () => {
      const tag = `page-${randomUUID().slice(0, 8)}`;
      const made: string[] = [];
      for (let i = 0; i < 5; i++) {
        made.push(
          (await client.createTask({ namespace: ns, name: 'linear', context: { i }, tags: [tag] })).task
            .task_uuid,
        );
      }
      const page = await client.listTasks({ tag: [tag], limit: 2 });
      expect(page.items).toHaveLength(2);
      expect(page.next_cursor).not.toBeNull();
      const all: string[] = [];
      for await (const t of client.iterateTasks({ tag: [tag], limit: 2 })) all.push(t.task_uuid);
      expect(new Set(all)).toEqual(new Set(made));
      expect(all).toHaveLength(5);
      const none = await client.listTasks({ tag: [tag], state: ['cancelled'] });
      expect(none.items).toEqual([]);
    });

    it('cancelTask cancels; cancelling again is a TaskerConflictError', async () => {
      const { task } = await client.createTask({ namespace: ns, name: 'slow', context: {} });
      const cancelled = await client.cancelTask(task.task_uuid, { reason: 'not needed' });
      expect(cancelled.state).toBe('cancelled');
      const again = await client.cancelTask(task.task_uuid).catch((e: unknown) => e);
      expect(again).toBeInstanceOf(TaskerConflictError);
      expect((again as TaskerConflictError).status).toBe(409);
      expect((again as TaskerConflictError).apiCode).toBe('INVALID_TRANSITION');
    });

    it('steps and transitions of a finished task', async () => {
      const { task } = await client.createTask({ namespace: ns, name: 'linear', context: {} });
      const done = await client.waitForTask(task.task_uuid, { timeoutMs: 30_000 });
      expect(done.state).toBe('complete');
      const steps = await client.listSteps(task.task_uuid);
      expect(steps.map((s) => [s.name, s.state])).toEqual([
        ['a', 'complete'],
        ['b', 'complete'],
        ['c', 'complete'],
      ]);
      const b = await client.getStep(task.task_uuid, steps[1]!.step_uuid);
      expect(b.depends_on).toEqual(['a']);
      expect(b.result).toEqual({ ok: true });
      const stepTrail = await client.stepTransitions(task.task_uuid, b.step_uuid);
      expect(stepTrail.at(-1)?.to_state).toBe('complete');
      expect(stepTrail.every((t) => t.step_uuid === b.step_uuid)).toBe(true);
      const trail = await client.taskTransitions(task.task_uuid);
      expect(trail.filter((t) => t.entity === 'task').at(-1)?.to_state).toBe('complete');
      expect(trail.length).toBeGreaterThan(stepTrail.length);
    });
  });

  describe('step actions resume a failed task', () => {
    async function failedTask(): Promise<{ taskUuid: string; flaky: string }> {
      const { task } = await client.createTask({ namespace: ns, name: 'fragile', context: {} });
      const failed = await client.waitForTask(task.task_uuid, { timeoutMs: 30_000 });
      expect(failed.state).toBe('error');
      expect(failed.error?.step_name).toBe('flaky');
      expect(failed.error?.error?.message).toBe('upstream said no');
      return { taskUuid: task.task_uuid, flaky: failed.steps.find((s) => s.name === 'flaky')!.step_uuid };
    }

    it('completeManually stores the result and the task completes', async () => {
      const { taskUuid, flaky } = await failedTask();
      const step = await client.completeManually(
        taskUuid,
        flaky,
        { fixed: 'by hand' },
        { reason: 'done offline' },
      );
      expect(step.state).toBe('complete');
      const done = await client.waitForTask(taskUuid, { timeoutMs: 30_000 });
      expect(done.state).toBe('complete');
      expect(done.steps.find((s) => s.name === 'last')!.result).toEqual({ saw: { fixed: 'by hand' } });
    });

    it('resolveManually lets dependents run', async () => {
      const { taskUuid, flaky } = await failedTask();
      const step = await client.resolveManually(taskUuid, flaky, { reason: 'not needed', by: 'tester' });
      expect(step.state).toBe('resolved_manually');
      const done = await client.waitForTask(taskUuid, { timeoutMs: 30_000 });
      expect(done.state).toBe('complete');
    });

    it('resetForRetry runs the step again (it fails again: the task ends in error once more)', async () => {
      const { taskUuid, flaky } = await failedTask();
      const step = await client.resetForRetry(taskUuid, flaky, { reason: 'try again' });
      expect([
        'pending',
        'enqueued',
        'in_progress',
        'error',
        'enqueued_as_error_for_orchestration',
      ]).toContain(step.state);
      const trail = await client.stepTransitions(taskUuid, flaky);
      expect(
        trail.some((t) => t.metadata?.reason === 'try again' || t.event.toLowerCase().includes('reset')),
      ).toBe(true);
      const again = await client.waitForTask(taskUuid, { timeoutMs: 30_000 });
      expect(again.state).toBe('error');
      // A step action the state machine forbids is a conflict.
      const { task } = await client.createTask({ namespace: ns, name: 'linear', context: {} });
      const done = await client.waitForTask(task.task_uuid, { timeoutMs: 30_000 });
      const e = await client
        .resetForRetry(task.task_uuid, done.steps[0]!.step_uuid, { reason: 'nothing to retry' })
        .catch((x: unknown) => x);
      expect(e).toBeInstanceOf(TaskerConflictError);
    });
  });

  describe('rerunFrom', () => {
    it('runs a finished step and its dependents again; the steps above keep their first run', async () => {
      const { task } = await client.createTask({ namespace: ns, name: 'linear', context: {} });
      const done = await client.waitForTask(task.task_uuid, { timeoutMs: 30_000 });
      const b = done.steps.find((s) => s.name === 'b')!;
      const step = await client.rerunFrom(task.task_uuid, b.step_uuid, {
        reason: 'input fixed',
        by: 'tester',
      });
      expect(step.name).toBe('b');
      const again = await client.waitForTask(task.task_uuid, { timeoutMs: 30_000 });
      expect(again.state).toBe('complete');
      const runs = async (name: string): Promise<number> => {
        const s = again.steps.find((x) => x.name === name)!;
        const trail = await client.stepTransitions(task.task_uuid, s.step_uuid);
        return trail.filter((t) => t.to_state === 'complete').length;
      };
      expect([await runs('a'), await runs('b'), await runs('c')]).toEqual([1, 2, 2]);
      // A step that has not finished cannot be re-run: a conflict.
      const { task: slow } = await client.createTask({ namespace: ns, name: 'slow', context: {} });
      const waiting = (await client.listSteps(slow.task_uuid))[0]!;
      const e = await client
        .rerunFrom(slow.task_uuid, waiting.step_uuid, { reason: 'too early' })
        .catch((x: unknown) => x);
      expect(e).toBeInstanceOf(TaskerConflictError);
      await client.cancelTask(slow.task_uuid);
    });
  });

  describe('templates', () => {
    it('listTemplates and getTemplate', async () => {
      const all = await client.listTemplates({ namespace: ns });
      expect(all.map((t) => t.name).sort()).toEqual(
        expect.arrayContaining(['fragile', 'keyed', 'linear', 'slow']),
      );
      const t = await client.getTemplate(ns, 'linear');
      expect(t.version).toBe('1.0.0');
      expect(t.dag.edges).toEqual([
        ['a', 'b'],
        ['b', 'c'],
      ]);
      const missing = await client.getTemplate(ns, 'nope').catch((e: unknown) => e);
      expect(missing).toBeInstanceOf(TaskerNotFoundError);
      expect((missing as TaskerNotFoundError).apiCode).toBe('TEMPLATE_NOT_FOUND');
    });

    it('validateTemplate: valid gives the definition, invalid gives every issue with its location', async () => {
      const ok = await client.validateTemplate(VALID_YAML);
      expect(ok.valid).toBe(true);
      if (ok.valid) expect(ok.template.dag.edges).toEqual([['one', 'two']]);
      const bad = await client.validateTemplate(BROKEN_YAML);
      expect(bad.valid).toBe(false);
      if (!bad.valid) {
        expect(bad.issues.length).toBeGreaterThan(0);
        const issue = bad.issues.find((i) => i.message.includes('nowhere'))!;
        expect(issue.path).toContain('depends_on');
        expect(issue.line).toBe(8);
      }
    });

    it('registerTemplate: created, then a no-op, then a conflict; invalid is a TaskerValidationError', async () => {
      const first = await client.registerTemplate(VALID_YAML);
      expect(first.created).toBe(true);
      expect(first.template.step_count).toBe(2);
      const again = await client.registerTemplate(VALID_YAML);
      expect(again.created).toBe(false);
      const conflict = await client
        .registerTemplate(VALID_YAML.replace('depends_on: [one]', 'depends_on: []'))
        .catch((e: unknown) => e);
      expect(conflict).toBeInstanceOf(TaskerConflictError);
      expect((conflict as TaskerConflictError).apiCode).toBe('TEMPLATE_CONFLICT');
      const invalid = await client.registerTemplate(BROKEN_YAML).catch((e: unknown) => e);
      expect(invalid).toBeInstanceOf(TaskerValidationError);
      expect((invalid as TaskerValidationError).status).toBe(422);
      expect((invalid as TaskerValidationError).issues.length).toBeGreaterThan(0);
    });
  });

  describe('dead-letter queue', () => {
    it('a failed task is filed; list, get and update its entry', async () => {
      const { task } = await client.createTask({ namespace: ns, name: 'fragile', context: { dlq: true } });
      await client.waitForTask(task.task_uuid, { timeoutMs: 30_000 });
      const entries: string[] = [];
      for await (const e of client.iterateDlq({ resolution_status: 'pending', limit: 1 })) {
        if (e.task_uuid === task.task_uuid) entries.push(e.dlq_entry_uuid);
      }
      expect(entries).toHaveLength(1);
      const entry = await client.getDlq(entries[0]!);
      expect(entry.reason).toBe('permanent_failure');
      expect(entry.resolution_status).toBe('pending');
      const updated = await client.updateDlq(entry.dlq_entry_uuid, {
        resolution_status: 'manually_resolved',
        resolution_notes: 'fixed upstream',
      });
      expect(updated.resolution_status).toBe('manually_resolved');
      expect(updated.resolution_notes).toBe('fixed upstream');
      const page = await client.listDlq({ resolution_status: 'manually_resolved' });
      expect(page.items.map((e) => e.dlq_entry_uuid)).toContain(entry.dlq_entry_uuid);
      const missing = await client.getDlq(randomUUID()).catch((e: unknown) => e);
      expect(missing).toBeInstanceOf(TaskerNotFoundError);
    });
  });

  describe('health and metrics', () => {
    it('health, healthLive, healthReady and metrics', async () => {
      expect((await client.healthLive()).status).toBe('ok');
      expect((await client.healthReady()).status).toBe('ready');
      const health = await client.health();
      expect(['healthy', 'degraded']).toContain(health.status);
      expect(health.database.ok).toBe(true);
      const metrics = await client.metrics();
      expect(metrics).toContain('tasker_http_request_duration_seconds');
    });
  });

  describe('typed errors', () => {
    it('404 on an unknown task is a TaskerNotFoundError with the API code', async () => {
      const e = await client.getTask(randomUUID()).catch((x: unknown) => x);
      expect(e).toBeInstanceOf(TaskerNotFoundError);
      const err = e as TaskerNotFoundError;
      expect(err.status).toBe(404);
      expect(err.apiCode).toBe('TASK_NOT_FOUND');
      expect(err.code).toBe('TASK_NOT_FOUND');
      expect(err.requestId).toMatch(/^[0-9a-f-]{36}$/);
      expect(err.request.method).toBe('GET');
    });

    it('400 names the offending field', async () => {
      const e = await client
        .createTask({ namespace: ns, name: 'linear', context: {}, priority: 1000 })
        .catch((x: unknown) => x);
      expect(e).toBeInstanceOf(TaskerValidationError);
      const err = e as TaskerValidationError;
      expect(err.status).toBe(400);
      expect(err.apiCode).toBe('VALIDATION_FAILED');
      expect(err.issues.map((i) => i.path)).toEqual(['priority']);
    });

    it('a malformed uuid is a 400 too, and a missing template a 404', async () => {
      await expect(client.getTask('not-a-uuid')).rejects.toBeInstanceOf(TaskerValidationError);
      await expect(client.createTask({ namespace: ns, name: 'missing', context: {} })).rejects.toBeInstanceOf(
        TaskerNotFoundError,
      );
    });

    it('an unreachable server is a TaskerNetworkError after the retries', async () => {
      const offline = new TaskerClient({
        baseUrl: `http://127.0.0.1:${await closedPort()}`,
        retry: { maxAttempts: 2, baseDelayMs: 1 },
      });
      const e = await offline.getTask(randomUUID()).catch((x: unknown) => x);
      expect(e).toBeInstanceOf(TaskerNetworkError);
      expect((e as TaskerNetworkError).message).toContain('ECONNREFUSED');
    });
  });

  describe('events and waitForTask', () => {
    it('events yields every transition once, then end', async () => {
      const { task } = await client.createTask({ namespace: ns, name: 'linear', context: {} });
      const events: TaskEvent[] = [];
      for await (const e of client.events(task.task_uuid)) events.push(e);
      expect(events.at(-1)).toEqual({ type: 'end', state: 'complete' });
      const trail = await client.taskTransitions(task.task_uuid);
      const keys = events.flatMap((e) => (e.type === 'transition' ? [e.id] : []));
      expect(new Set(keys).size).toBe(keys.length);
      expect(new Set(keys)).toEqual(new Set(trail.map((t) => t.key)));
    });

    it('resumes after a dropped connection with Last-Event-ID and misses nothing', async () => {
      // The proxy cuts the first connection after two events; later connections pass through.
      const proxy = await startProxy(stack.url, { dropFirstAfterEvents: 2 });
      try {
        const viaProxy = new TaskerClient({ baseUrl: proxy.url, retry: { baseDelayMs: 10 } });
        const { task } = await client.createTask({ namespace: ns, name: 'linear', context: {} });
        const events: TaskEvent[] = [];
        for await (const e of viaProxy.events(task.task_uuid)) events.push(e);
        expect(proxy.streamRequests.length).toBeGreaterThanOrEqual(2);
        expect(proxy.streamRequests[0]!.lastEventId).toBeUndefined();
        const firstTwo = events.slice(0, 2).map((e) => (e.type === 'transition' ? e.id : ''));
        expect(proxy.streamRequests[1]!.lastEventId).toBe(firstTwo[1]);
        const trail = await client.taskTransitions(task.task_uuid);
        const keys = events.flatMap((e) => (e.type === 'transition' ? [e.id] : []));
        expect(keys).toHaveLength(trail.length);
        expect(new Set(keys)).toEqual(new Set(trail.map((t) => t.key)));
        expect(events.at(-1)).toEqual({ type: 'end', state: 'complete' });
      } finally {
        await proxy.close();
      }
    });

    it('waitForTask calls onStep for every step transition and resolves with the finished task', async () => {
      const { task } = await client.createTask({ namespace: ns, name: 'linear', context: {} });
      const steps: TransitionBody[] = [];
      const all: TransitionBody[] = [];
      const done = await client.waitForTask(task.task_uuid, {
        onStep: (t) => {
          steps.push(t);
        },
        onTransition: (t) => {
          all.push(t);
        },
        timeoutMs: 30_000,
      });
      expect(done.state).toBe('complete');
      expect(done.steps.every((s) => s.state === 'complete')).toBe(true);
      expect(steps.every((t) => t.entity === 'step')).toBe(true);
      for (const name of ['a', 'b', 'c']) {
        expect(steps.filter((t) => t.step_name === name).map((t) => t.to_state)).toContain('complete');
      }
      expect(all.length).toBeGreaterThan(steps.length);
    });

    it('waitForTask rejects with TaskerTimeoutError after timeoutMs and TaskerAbortError on abort', async () => {
      const { task } = await client.createTask({ namespace: ns, name: 'slow', context: {} });
      const started = Date.now();
      await expect(client.waitForTask(task.task_uuid, { timeoutMs: 300 })).rejects.toBeInstanceOf(
        TaskerTimeoutError,
      );
      expect(Date.now() - started).toBeLessThan(5000);
      const controller = new AbortController();
      setTimeout(() => controller.abort(), 200);
      await expect(client.waitForTask(task.task_uuid, { signal: controller.signal })).rejects.toBeInstanceOf(
        TaskerAbortError,
      );
      await client.cancelTask(task.task_uuid);
    });

    it('events of an unknown task is a TaskerNotFoundError', async () => {
      const iterate = async (): Promise<void> => {
        for await (const _ of client.events(randomUUID())) {
          // never reached
        }
      };
      await expect(iterate()).rejects.toBeInstanceOf(TaskerNotFoundError);
    });
  });
});

describe('TaskerClient with authentication on', () => {
  let db: TestDatabase;
  let stack: Stack;
  const secret = 'a-test-secret-that-is-long-enough-for-hs256';

  beforeAll(async () => {
    db = await createTestDatabase();
    stack = await startStack(db, {
      templates: [linear],
      handlers,
      overrides: {
        orchestration: {
          api: {
            auth: {
              enabled: true,
              api_keys: [
                { name: 'reader', key: 'reader-key', permissions: ['tasks:read'] },
                { name: 'admin', key: 'admin-key', permissions: ['*'] },
              ],
              jwt_hs256_secret: secret,
            },
          },
        },
      },
    });
  });
  afterAll(async () => {
    await stack?.stop();
    await db?.drop();
  });

  it('no credentials: 401 TaskerUnauthorizedError; a key without the permission: 403 TaskerForbiddenError', async () => {
    const anonymous = new TaskerClient({ baseUrl: stack.url });
    const e1 = await anonymous.listTasks().catch((x: unknown) => x);
    expect(e1).toBeInstanceOf(TaskerUnauthorizedError);
    expect((e1 as TaskerUnauthorizedError).status).toBe(401);
    const reader = new TaskerClient({ baseUrl: stack.url, apiKey: 'reader-key' });
    expect((await reader.listTasks()).items).toEqual([]);
    const e2 = await reader
      .createTask({ namespace: ns, name: 'linear', context: {} })
      .catch((x: unknown) => x);
    expect(e2).toBeInstanceOf(TaskerForbiddenError);
    expect((e2 as TaskerForbiddenError).details).toEqual({ required: 'tasks:create' });
    // Liveness stays open.
    expect((await anonymous.healthLive()).status).toBe('ok');
  });

  it('an API key and a bearer token (also from a function) are sent', async () => {
    const admin = new TaskerClient({ baseUrl: stack.url, apiKey: 'admin-key' });
    const { task } = await admin.createTask({ namespace: ns, name: 'linear', context: {} });
    expect((await admin.waitForTask(task.task_uuid, { timeoutMs: 30_000 })).state).toBe('complete');
    const token = await new SignJWT({ permissions: ['tasks:read'] })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('jwt-user')
      .setExpirationTime('5m')
      .sign(new TextEncoder().encode(secret));
    const bearer = new TaskerClient({ baseUrl: stack.url, bearerToken: () => Promise.resolve(token) });
    expect((await bearer.getTask(task.task_uuid)).state).toBe('complete');
    const badToken = new TaskerClient({ baseUrl: stack.url, bearerToken: 'nope' });
    await expect(badToken.getTask(task.task_uuid)).rejects.toBeInstanceOf(TaskerUnauthorizedError);
  });
});
