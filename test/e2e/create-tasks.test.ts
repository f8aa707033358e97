import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPool } from '../../src/db/pool.js';
import { ErrorCode, TaskerError } from '../../src/errors.js';
import { createTasker, type Tasker } from '../../src/results/tasker.js';
import { defineTemplate } from '../../src/templates/index.js';
import { defineHandler } from '../../src/worker/handler.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { startEngine, testConfig, type Engine } from '../support/engine.js';

const ns = 'bulk_create';
const plain = defineTemplate({ namespace: ns, name: 'plain', version: '1.0.0' })
  .step('one', { handler: 'bulk.echo' })
  .step('two', { handler: 'bulk.echo', dependsOn: ['one'] })
  .build();
const strict = defineTemplate({ namespace: ns, name: 'strict', version: '1.0.0', identityStrategy: 'strict' })
  .step('only', { handler: 'bulk.echo' })
  .build();

describe('createTasks: many tasks in one round trip', () => {
  let db: TestDatabase;
  let engine: Engine;
  let pool: pg.Pool;
  let tasker: Tasker;
  /** Statements sent through the Tasker's own pool. */
  const sent: string[] = [];

  beforeAll(async () => {
    db = await createTestDatabase();
    engine = await startEngine(db, {
      templates: [plain, strict],
      handlers: [defineHandler('bulk.echo', (ctx) => ({ step: ctx.stepName, i: ctx.context.i ?? null }))],
    });
    pool = createPool({
      url: db.url,
      maxConnections: 2,
      idleTimeoutMs: 1000,
      acquireTimeoutMs: 10_000,
      statementTimeoutMs: 60_000,
      applicationName: 'bulk-test',
    });
    const query = pool.query.bind(pool) as (...args: unknown[]) => unknown;
    pool.query = ((...args: unknown[]) => {
      const first = args[0];
      sent.push(typeof first === 'string' ? first : ((first as { text?: string }).text ?? ''));
      return query(...args);
    }) as typeof pool.query;
    tasker = createTasker({ config: testConfig(db.url), pool });
  });
  afterAll(async () => {
    await tasker?.close();
    await pool?.end();
    await engine?.stop();
    await db?.drop();
  });

  async function taskCount(): Promise<number> {
    const res = await db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM tasker.tasks');
    return res.rows[0]!.n;
  }

  it('creates 50 tasks with one statement, in order, each awaitable', async () => {
    const before = await taskCount();
    sent.length = 0;
    const items = await tasker.createTasks(
      Array.from({ length: 50 }, (_, i) => ({ namespace: ns, name: 'plain', context: { i } })),
    );
    expect(sent).toHaveLength(1);
    expect(sent[0]).toMatch(/tasker\.create_tasks\(/);
    expect(await taskCount()).toBe(before + 50);
    expect(items).toHaveLength(50);
    const tasks = items.map((item) => {
      if (!item.ok) throw item.error;
      expect(item.task.existing).toBe(false);
      expect(item.task.stepsEnqueued).toBe(1);
      return item.task;
    });
    expect(new Set(tasks.map((t) => t.taskUuid)).size).toBe(50);
    const results = await Promise.all(tasks.map((t) => t.result({ timeoutMs: 60_000 })));
    results.forEach((r, i) => expect(r).toEqual({ one: { step: 'one', i }, two: { step: 'two', i } }));
  });

  it('applies the identity rules per task: idempotency keys return the earlier task, strict duplicates are reported', async () => {
    const first = await tasker.createTasks([
      { namespace: ns, name: 'plain', context: { i: 1 }, idempotencyKey: 'k-1' },
      { namespace: ns, name: 'plain', context: { i: 2 }, idempotencyKey: 'k-1' },
      { namespace: ns, name: 'strict', context: { a: 1 } },
      { namespace: ns, name: 'strict', context: { a: 1 } },
      { namespace: ns, name: 'strict', context: { a: 2 } },
    ]);
    const [keyed, keyedAgain, strictA, strictDup, strictB] = first;
    if (!keyed?.ok || !keyedAgain?.ok || !strictA?.ok || !strictB?.ok) {
      throw new Error('expected created tasks');
    }
    expect(keyed.task.existing).toBe(false);
    expect(keyedAgain.task.existing).toBe(true);
    expect(keyedAgain.task.taskUuid).toBe(keyed.task.taskUuid);
    expect(strictB.task.taskUuid).not.toBe(strictA.task.taskUuid);
    expect(strictDup?.ok).toBe(false);
    if (strictDup?.ok !== false) throw new Error('expected a duplicate');
    expect(strictDup.error.code).toBe(ErrorCode.TaskDuplicate);
    expect(strictDup.error.details).toMatchObject({ index: 3, task_uuid: strictA.task.taskUuid });

    const second = await tasker.createTasks([
      { namespace: ns, name: 'plain', context: {}, idempotencyKey: 'k-1' },
      { namespace: ns, name: 'plain', context: {}, idempotencyKey: 'k-2' },
    ]);
    expect(second.map((s) => s.ok && s.task.existing)).toEqual([true, false]);
    expect(second[0]!.ok && second[0]!.task.taskUuid).toBe(keyed.task.taskUuid);
  });

  it('refuses an invalid request by its index and creates nothing', async () => {
    const before = await taskCount();
    sent.length = 0;
    const err = await tasker
      .createTasks([
        { namespace: ns, name: 'plain', context: {} },
        { namespace: ns, name: 'plain', context: [] as unknown as Record<string, unknown> },
      ])
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TaskerError);
    expect((err as TaskerError).code).toBe(ErrorCode.TaskInvalid);
    expect((err as TaskerError).details).toMatchObject({ index: 1, field: 'context' });
    expect((err as Error).message).toMatch(/^requests\[1\]: context must be a JSON object/);
    expect(sent).toHaveLength(0);
    expect(await taskCount()).toBe(before);
  });

  it('rolls the whole call back when the database refuses one request (unknown template)', async () => {
    const before = await taskCount();
    const err = await tasker
      .createTasks([
        { namespace: ns, name: 'plain', context: {} },
        { namespace: ns, name: 'no_such_template', context: {} },
      ])
      .catch((e: unknown) => e);
    expect((err as TaskerError).code).toBe(ErrorCode.TemplateNotFound);
    expect(await taskCount()).toBe(before);
  });

  it('an empty list sends nothing', async () => {
    sent.length = 0;
    expect(await tasker.createTasks([])).toEqual([]);
    expect(sent).toHaveLength(0);
  });

  it('the orchestrator creates in bulk too, with handles', async () => {
    const items = await engine.orchestrator.createTasks([
      { namespace: ns, name: 'plain', context: { i: 9 } },
      { namespace: ns, name: 'plain', context: { i: 10 } },
    ]);
    const results = await Promise.all(
      items.map((item) => (item.ok ? item.task.result({ timeoutMs: 30_000 }) : Promise.reject(item.error))),
    );
    expect(results.map((r) => r.two)).toEqual([
      { step: 'two', i: 9 },
      { step: 'two', i: 10 },
    ]);
  });
});
