/**
 * JSON input at the edges: every JSON object is accepted and stored exactly as given (keys named `__proto__` and
 * `constructor` included) through the API, the library and the CLI, without polluting any prototype; nesting
 * beyond the configured depth is refused with a 400 that names the limit, never a stack overflow or a 500.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTaskBody, taskBody } from '../../src/api/index.js';
import type { TaskBody } from '../../src/client/index.js';
import { TaskerError } from '../../src/errors.js';
import { createTask } from '../../src/orchestration/task-creator.js';
import { defineTemplate } from '../../src/templates/index.js';
import { defineHandler } from '../../src/worker/handler.js';
import { json, tasker } from '../cli/run.js';
import { startStack, type Stack } from '../client/helpers.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { waitForTask } from '../support/engine.js';
import { bodyOf, expectError, startApi } from './helpers.js';

const ns = 'json_input';
const echo = defineTemplate({ namespace: ns, name: 'echo', version: '1.0.0' })
  .step('look', { handler: 'look' })
  .build();
const deepTemplate = defineTemplate({ namespace: ns, name: 'deep', version: '1.0.0' })
  .step('make', { handler: 'deep', retry: { maxAttempts: 1 } })
  .build();
const cyclicTemplate = defineTemplate({ namespace: ns, name: 'cyclic', version: '1.0.0' })
  .step('make', { handler: 'cyclic', retry: { maxAttempts: 1 } })
  .build();

/** What the handler saw of each task's context: its own keys and their values, as JSON. */
const seen = new Map<string, { ownKeys: string[]; json: string; protoIsObject: boolean }>();

const handlers = [
  defineHandler('look', (ctx) => {
    seen.set(ctx.taskUuid, {
      ownKeys: Object.keys(ctx.context),
      json: JSON.stringify(ctx.context),
      protoIsObject: Object.getPrototypeOf(ctx.context) === Object.prototype,
    });
    // Echo the context back as the result, so the stored result goes through the same paths.
    return ctx.context;
  }),
  defineHandler('cyclic', () => {
    const v: Record<string, unknown> = { a: 1 };
    v.self = v;
    return v;
  }),
  defineHandler('deep', () => {
    let v: unknown = 1;
    for (let i = 0; i < 10_000; i++) v = [v];
    return v;
  }),
];

const PROTO_CONTEXT =
  '{"__proto__":{"polluted":"yes","n":1},"constructor":{"prototype":{"polluted":"yes"}},"k":2}';

/** Object.prototype's own keys, to show nothing was added to it. */
function prototypeKeys(): string[] {
  return Object.getOwnPropertyNames(Object.prototype).sort();
}

/** Nested arrays `depth` levels deep. */
function nested(depth: number): string {
  return `${'['.repeat(depth)}${']'.repeat(depth)}`;
}

describe('JSON input', () => {
  let db: TestDatabase;
  let stack: Stack;
  const protoBefore = prototypeKeys();

  beforeAll(async () => {
    db = await createTestDatabase();
    stack = await startStack(db, { templates: [echo, deepTemplate, cyclicTemplate], handlers });
  });
  afterAll(async () => {
    await stack?.stop();
    await db?.drop();
  });

  async function postTask(payload: string) {
    return stack.api.app.inject({
      method: 'POST',
      url: '/v1/tasks',
      headers: { 'content-type': 'application/json' },
      payload,
    });
  }

  function expectVerbatim(taskUuid: string, context: unknown): void {
    const got = seen.get(taskUuid);
    expect(got, 'the handler ran').toBeDefined();
    // Sorted: jsonb keeps keys, not their order.
    expect(got!.ownKeys.sort()).toEqual(['__proto__', 'constructor', 'k']);
    expect(JSON.parse(got!.json)).toEqual(JSON.parse(PROTO_CONTEXT));
    expect(got!.protoIsObject).toBe(true);
    expect(context).toEqual(JSON.parse(PROTO_CONTEXT));
    expect(Object.keys(context as object).sort()).toEqual(['__proto__', 'constructor', 'k']);
    // Nothing reached any prototype.
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(prototypeKeys()).toEqual(protoBefore);
  }

  it('POST /v1/tasks accepts __proto__ and constructor.prototype keys and stores them verbatim', async () => {
    const res = await postTask(`{"namespace":"${ns}","name":"echo","context":${PROTO_CONTEXT}}`);
    expect(res.statusCode, res.body).toBe(201);
    const created = bodyOf(res, taskBody);
    // The raw response text has the keys (bodyOf's schema passes the object through as given too).
    expect(Object.keys(created.context).sort()).toEqual(['__proto__', 'constructor', 'k']);
    const done = await waitForTask(db.pool, created.task_uuid);
    expect(done.state).toBe('complete');
    expectVerbatim(created.task_uuid, done.context);
    // The echoed result was stored and read back with the same own keys.
    expect(Object.keys(done.steps[0]!.result as object).sort()).toEqual(['__proto__', 'constructor', 'k']);
    const read = bodyOf(
      await stack.api.app.inject({ method: 'GET', url: `/v1/tasks/${created.task_uuid}` }),
      taskBody,
    );
    expect(JSON.parse(JSON.stringify(read.context))).toEqual(JSON.parse(PROTO_CONTEXT));
    expect(Object.keys(read.steps[0]!.result as object).sort()).toEqual(['__proto__', 'constructor', 'k']);
  });

  it('application/json with a charset parameter takes the same parser', async () => {
    const res = await stack.api.app.inject({
      method: 'POST',
      url: '/v1/tasks',
      headers: { 'content-type': 'application/json; charset=utf-8' },
      payload: `{"namespace":"${ns}","name":"echo","context":${PROTO_CONTEXT}}`,
    });
    expect(res.statusCode, res.body).toBe(201);
    expect(Object.keys(bodyOf(res, taskBody).context).sort()).toEqual(['__proto__', 'constructor', 'k']);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('a leading byte-order mark is tolerated', async () => {
    const res = await postTask(`\uFEFF{"namespace":"${ns}","name":"echo","context":{"bom":true}}`);
    expect(res.statusCode, res.body).toBe(201);
  });

  it('the request schema keeps a __proto__ key of the context (zod records would drop it)', () => {
    const parsed = createTaskBody.parse(
      JSON.parse(`{"namespace":"a","name":"b","context":${PROTO_CONTEXT}}`),
    );
    expect(Object.keys(parsed.context)).toEqual(['__proto__', 'constructor', 'k']);
    expect(Object.getPrototypeOf(parsed.context)).toBe(Object.prototype);
  });

  it('the library stores such a context verbatim too', async () => {
    const created = await createTask(db.pool, {
      namespace: ns,
      name: 'echo',
      context: JSON.parse(PROTO_CONTEXT) as Record<string, unknown>,
    });
    const done = await waitForTask(db.pool, created.taskUuid);
    expectVerbatim(created.taskUuid, done.context);
  });

  it('tasker task create --context passes such a context through verbatim', async () => {
    const res = await tasker(['task', 'create', ns, 'echo', '--context', PROTO_CONTEXT, '--json'], {
      TASKER_URL: stack.url,
    });
    expect(res.code, res.stderr).toBe(0);
    const { task } = json<{ task: TaskBody }>(res);
    const done = await waitForTask(db.pool, task.task_uuid);
    expect(done.state).toBe('complete');
    expectVerbatim(task.task_uuid, done.context);
  });

  it('tasker task create refuses a context too deep for any server, and reports the server limit', async () => {
    const env = { TASKER_URL: stack.url };
    const huge = await tasker(['task', 'create', ns, 'echo', '--context', `{"d":${nested(10_000)}}`], env);
    expect(huge.code).toBe(2);
    expect(huge.stderr).toContain('--context nests deeper than 1000 levels');
    expect(huge.stderr).not.toMatch(/\n\s+at /);
    const deep = await tasker(['task', 'create', ns, 'echo', '--context', `{"d":${nested(200)}}`], env);
    expect(deep.code).not.toBe(0);
    expect(deep.stderr).toContain('orchestration.api.max_json_depth');
    expect(deep.stderr).not.toMatch(/\n\s+at /);
  });

  it('a body nested 10,000 deep is refused with 400 JSON_TOO_DEEP naming the limit', async () => {
    const res = await postTask(`{"namespace":"${ns}","name":"echo","context":{"d":${nested(10_000)}}}`);
    const error = expectError(res, 400, 'JSON_TOO_DEEP');
    expect(error.message).toContain('orchestration.api.max_json_depth');
    expect(error.message).toContain('128');
    expect(error.details).toEqual({ max_json_depth: 128 });
  });

  it('the limit is exact: depth 128 is accepted, 129 refused; brackets inside strings do not count', async () => {
    // The body object and the context object are two levels, so the array adds depth - 2.
    const at = (depth: number) =>
      postTask(
        `{"namespace":"${ns}","name":"echo","context":{"d":${nested(depth - 2)},"s":"${'['.repeat(500)}"}}`,
      );
    const ok = await at(128);
    expect(ok.statusCode, ok.body).toBe(201);
    expectError(await at(129), 400, 'JSON_TOO_DEEP');
  });

  it('the limit is configurable', async () => {
    const small = await startApi(db, { orchestration: { api: { max_json_depth: 4 } } });
    try {
      const res = await small.app.inject({
        method: 'POST',
        url: '/v1/tasks',
        headers: { 'content-type': 'application/json' },
        payload: `{"namespace":"${ns}","name":"echo","context":{"a":{"b":{"c":{"d":1}}}}}`,
      });
      const error = expectError(res, 400, 'JSON_TOO_DEEP');
      expect(error.message).toContain('deeper than 4 levels');
    } finally {
      await small.close();
    }
  });

  it('the library refuses a context nested 10,000 deep with TASK_INVALID naming the limit', async () => {
    let deep: unknown = 1;
    for (let i = 0; i < 10_000; i++) deep = [deep];
    const error = await createTask(db.pool, { namespace: ns, name: 'echo', context: { deep } }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(TaskerError);
    expect((error as TaskerError).code).toBe('TASK_INVALID');
    expect((error as TaskerError).message).toContain('deeper than 128 levels');
    expect((error as TaskerError).details).toMatchObject({ field: 'context', max_json_depth: 128 });
  });

  it('a handler result nested 10,000 deep fails the step with RESULT_TOO_DEEP; the worker keeps working', async () => {
    const created = await createTask(db.pool, { namespace: ns, name: 'deep', context: {} });
    const done = await waitForTask(db.pool, created.taskUuid);
    expect(done.state).toBe('error');
    expect(done.steps[0]!.error).toMatchObject({ code: 'RESULT_TOO_DEEP', name: 'ResultTooDeep' });
    expect(done.steps[0]!.error?.message).toContain('worker.max_result_depth');
    // The same worker still completes other work.
    const next = await createTask(db.pool, { namespace: ns, name: 'echo', context: { after: true } });
    expect((await waitForTask(db.pool, next.taskUuid)).state).toBe('complete');
  });

  it('a cyclic handler result is still RESULT_NOT_SERIALIZABLE, not too deep', async () => {
    const created = await createTask(db.pool, { namespace: ns, name: 'cyclic', context: {} });
    const done = await waitForTask(db.pool, created.taskUuid);
    expect(done.state).toBe('error');
    expect(done.steps[0]!.error).toMatchObject({ code: 'RESULT_NOT_SERIALIZABLE' });
  });
});
