/**
 * Task priorities with aging (migrations/0010_priorities.sql): a step message of a task with priority `p` is
 * back-dated by `(p - min) * head_start_ms_per_level`, and claims read in visibility order. Orders are checked
 * against the messages' stored visibility times (read before any worker runs), never against wall-clock
 * durations: with one handler slot and one message per claim, handlers run exactly in (vt, msg_id) order.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DeepPartial, TaskerConfig } from '../../src/config/index.js';
import { mapDbError } from '../../src/db/errors.js';
import { ErrorCode, RetryableError, TaskerError } from '../../src/errors.js';
import { DEFAULT_PRIORITY_SETTINGS } from '../../src/orchestration/task-creator.js';
import { defineTemplate } from '../../src/templates/index.js';
import type { RetryPolicy, TaskTemplate } from '../../src/templates/types.js';
import { defineHandler } from '../../src/worker/handler.js';
import { createWorker, type Worker } from '../../src/worker/worker.js';
import { startApi } from '../api/helpers.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { startEngine, testConfig, waitForTask, type Engine } from '../support/engine.js';

/** One single-step template per namespace: each task is exactly one step message. */
function oneStep(namespace: string, retry?: Partial<RetryPolicy>): TaskTemplate {
  return defineTemplate({ namespace, name: 'work', version: '1.0.0' })
    .step('only', { handler: 'record', ...(retry ? { retry } : {}) })
    .build();
}

/** Labels (task context `label`) in the order their handlers ran, per namespace. */
const runs = new Map<string, string[]>();
const handlers = [
  defineHandler('record', (ctx) => {
    const label = String(ctx.context.label);
    // A `fail_first` task asks for a retry far in the future; the test makes it due when it wants it.
    if (ctx.context.fail_first === true && ctx.attempt === 1) {
      throw new RetryableError('not yet', { retryAfterMs: 600_000 });
    }
    const list = runs.get(ctx.namespace) ?? [];
    list.push(`${label}#${ctx.attempt}`);
    runs.set(ctx.namespace, list);
    return { label };
  }),
];

/** Priority settings of these tests: 0..100, default 10. */
function overrides(headStartMsPerLevel: number): DeepPartial<TaskerConfig> {
  return {
    orchestration: {
      priority: { min: 0, max: 100, default: 10, head_start_ms_per_level: headStartMsPerLevel },
    },
    // One handler at a time, one message per claim: run order = claim order = (vt, msg_id) order.
    worker: { max_concurrent_handlers: 1, claim_batch_size: 1 },
  };
}

interface QueuedMessage {
  task_uuid: string;
  label: string;
  priority: number;
  vt: Date;
  enqueued_at: Date;
  /** enqueued_at - vt, in ms: the head start the message got. */
  head_start_ms: number;
}

/** The namespace's step messages in claim order, with their task's label and priority. */
async function queued(db: TestDatabase, namespace: string): Promise<QueuedMessage[]> {
  const res = await db.pool.query<QueuedMessage>(
    `SELECT t.task_uuid::text, t.context->>'label' AS label, t.priority, m.vt, m.enqueued_at,
            (extract(epoch FROM m.enqueued_at - m.vt) * 1000)::float8 AS head_start_ms
     FROM tasker.queue_messages m JOIN tasker.tasks t ON t.task_uuid = (m.message->>'task_uuid')::uuid
     WHERE m.queue_name = tasker.worker_queue_name($1)
     ORDER BY m.vt, m.msg_id`,
    [namespace],
  );
  return res.rows;
}

/** Waits (on database time, not the test's clock) until `at` plus `afterMs` has passed. */
async function waitForDbTime(db: TestDatabase, at: Date, afterMs: number): Promise<void> {
  for (;;) {
    const res = await db.pool.query<{ past: boolean }>(
      `SELECT clock_timestamp() > $1::timestamptz + make_interval(secs => $2::float8 / 1000) AS past`,
      [at, afterMs],
    );
    if (res.rows[0]?.past) return;
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('task priorities', () => {
  let db: TestDatabase;
  const engines: Engine[] = [];
  const workers: Worker[] = [];

  /** An orchestrator (and a stopped worker) for one namespace, with these tests' priority settings. */
  async function engineFor(template: TaskTemplate, headStartMsPerLevel: number): Promise<Engine> {
    const engine = await startEngine(db, {
      templates: [template],
      handlers,
      overrides: overrides(headStartMsPerLevel),
      startWorker: false,
    });
    engines.push(engine);
    return engine;
  }

  async function startWorker(engine: Engine, template: TaskTemplate): Promise<Worker> {
    const worker = createWorker({ config: engine.config, templates: [template], handlers });
    workers.push(worker);
    await worker.start();
    return worker;
  }

  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    for (const w of workers) await w.stop();
    for (const e of engines) await e.stop();
    await db?.drop();
  });

  it('claims steps of higher-priority tasks first, whatever the creation order', async () => {
    const ns = 'prio_order';
    const template = oneStep(ns);
    const engine = await engineFor(template, 1000);
    const create = (label: string, priority?: number) =>
      engine.orchestrator.createTask({
        namespace: ns,
        name: 'work',
        context: { label },
        ...(priority === undefined ? {} : { priority }),
      });
    // Lowest first, highest last: plain FIFO would run them in exactly the wrong order.
    for (let i = 0; i < 4; i++) await create(`low${i}`, 0);
    for (let i = 0; i < 4; i++) await create(`default${i}`);
    for (let i = 0; i < 4; i++) await create(`mid${i}`, 50);
    for (let i = 0; i < 4; i++) await create(`high${i}`, 100);

    const messages = await queued(db, ns);
    expect(messages).toHaveLength(16);
    // Each message was back-dated by exactly (priority - min) * head start.
    for (const m of messages) expect(m.head_start_ms).toBe(m.priority * 1000);
    expect(messages.find((m) => m.label === 'default0')?.priority).toBe(10);
    // Claim order (vt, msg_id): by priority, FIFO within one priority.
    expect(messages.map((m) => m.label)).toEqual([
      ...['high0', 'high1', 'high2', 'high3'],
      ...['mid0', 'mid1', 'mid2', 'mid3'],
      ...['default0', 'default1', 'default2', 'default3'],
      ...['low0', 'low1', 'low2', 'low3'],
    ]);

    await startWorker(engine, template);
    const tasks = await Promise.all(messages.map((m) => waitForTask(db.pool, m.task_uuid)));
    expect(tasks.every((t) => t.state === 'complete')).toBe(true);
    expect(runs.get(ns)).toEqual(messages.map((m) => `${m.label}#1`));
  });

  it('ages: a flood of high-priority tasks does not starve an older low-priority task', async () => {
    const ns = 'prio_flood';
    const template = oneStep(ns);
    const perLevel = 20;
    const engine = await engineFor(template, perLevel);
    const create = (label: string, priority: number) =>
      engine.orchestrator.createTask({ namespace: ns, name: 'work', context: { label }, priority });

    const low = await create('low', 0);
    // High-priority work arriving within the head start (100 levels = 2 s) may go first ...
    const early = await Promise.all(Array.from({ length: 3 }, (_, i) => create(`early${i}`, 100)));
    const lowVt = (await queued(db, ns)).find((m) => m.task_uuid === low.taskUuid)!.vt;
    // ... but none that arrives after it: wait (database time) until the bound has passed, then flood.
    await waitForDbTime(db, lowVt, 100 * perLevel);
    const flood = await Promise.all(Array.from({ length: 60 }, (_, i) => create(`flood${i}`, 100)));

    const messages = await queued(db, ns);
    expect(messages).toHaveLength(64);
    const position = (uuid: string) => messages.findIndex((m) => m.task_uuid === uuid);
    const floodUuids = new Set(flood.map((f) => f.taskUuid));
    for (const m of messages) {
      expect(m.head_start_ms).toBe(m.priority * perLevel);
      if (floodUuids.has(m.task_uuid)) expect(m.vt.getTime()).toBeGreaterThan(lowVt.getTime());
    }
    // An early task enqueued less than its head start after the low one overtook it (decided by the stored
    // times, so the check holds however long creating them took).
    const lowAtDb = messages[position(low.taskUuid)]!.enqueued_at.getTime();
    for (const e of early) {
      const m = messages[position(e.taskUuid)]!;
      if (m.enqueued_at.getTime() - lowAtDb < 100 * perLevel) {
        expect(position(e.taskUuid)).toBeLessThan(position(low.taskUuid));
      }
    }
    // Low and the early burst (in whatever order their visibility times give) come before the whole flood.
    expect(Math.min(...flood.map((f) => position(f.taskUuid)))).toBe(1 + early.length);
    expect(position(low.taskUuid)).toBeLessThan(1 + early.length);

    await startWorker(engine, template);
    const all = [low, ...early, ...flood];
    const tasks = await Promise.all(all.map((c) => waitForTask(db.pool, c.taskUuid, 60_000)));
    expect(tasks.every((t) => t.state === 'complete')).toBe(true);
    const order = runs.get(ns)!;
    expect(order).toEqual(messages.map((m) => `${m.label}#1`));
    const lowAt = order.indexOf('low#1');
    for (let i = 0; i < flood.length; i++) expect(order.indexOf(`flood${i}#1`)).toBeGreaterThan(lowAt);
  });

  it('keeps a retried step at its task priority: the retry message is back-dated too', async () => {
    const ns = 'prio_retry';
    const template = oneStep(ns, { maxAttempts: 2, maxBackoffMs: 600_000 });
    const engine = await engineFor(template, 1000);
    const high = await engine.orchestrator.createTask({
      namespace: ns,
      name: 'work',
      context: { label: 'high', fail_first: true },
      priority: 100,
    });
    // First attempt fails and asks for a retry in 10 minutes.
    const first = await startWorker(engine, template);
    for (;;) {
      const res = await db.pool.query<{ state: string }>(
        `SELECT state FROM tasker.workflow_steps WHERE task_uuid = $1`,
        [high.taskUuid],
      );
      if (res.rows[0]?.state === 'waiting_for_retry') break;
      await new Promise((r) => setTimeout(r, 20));
    }
    await first.stop();
    workers.splice(workers.indexOf(first), 1);

    // A low-priority task enqueued before the retry ...
    const low = await engine.orchestrator.createTask({
      namespace: ns,
      name: 'work',
      context: { label: 'low' },
      priority: 0,
    });
    // ... then the retry becomes due and is enqueued by the orchestrator's own function.
    await db.pool.query(`UPDATE tasker.workflow_steps SET next_retry_at = now() WHERE task_uuid = $1`, [
      high.taskUuid,
    ]);
    await db.pool.query(`SELECT * FROM tasker.enqueue_due_retries(100, 'test')`);
    let messages: QueuedMessage[] = [];
    while (messages.length < 2) {
      messages = await queued(db, ns);
      if (messages.length < 2) await new Promise((r) => setTimeout(r, 20));
    }
    const retry = messages.find((m) => m.task_uuid === high.taskUuid)!;
    expect(retry.head_start_ms).toBe(100_000);
    expect(messages.map((m) => m.label)).toEqual(['high', 'low']);

    await startWorker(engine, template);
    const [h, l] = await Promise.all([
      waitForTask(db.pool, high.taskUuid),
      waitForTask(db.pool, low.taskUuid),
    ]);
    expect(h.state).toBe('complete');
    expect(h.steps[0]!.attempts).toBe(2);
    expect(l.state).toBe('complete');
    expect(runs.get(ns)).toEqual(['high#2', 'low#1']);
  });

  describe('priority outside the configured range', () => {
    const ns = 'prio_range';
    const template = oneStep(ns);
    let engine: Engine;

    beforeAll(async () => {
      engine = await engineFor(template, 1000);
    });

    const taskCount = async () =>
      Number(
        (
          await db.pool.query<{ n: string }>(`SELECT count(*) AS n FROM tasker.tasks WHERE namespace = $1`, [
            ns,
          ])
        ).rows[0]!.n,
      );

    it('the API refuses it with 400 naming the field and the range, and creates nothing', async () => {
      const api = await startApi(db, overrides(1000));
      try {
        for (const priority of [101, -1]) {
          const res = await api.app.inject({
            method: 'POST',
            url: '/v1/tasks',
            payload: { namespace: ns, name: 'work', context: { label: 'x' }, priority },
          });
          expect(res.statusCode, res.body).toBe(400);
          const { error } = res.json<{
            error: {
              code: string;
              message: string;
              details: { issues: { path: string; message: string }[] };
            };
          }>();
          expect(error.code).toBe('VALIDATION_FAILED');
          expect(error.message).toContain('priority must be between 0 and 100');
          expect(error.details.issues.map((i) => i.path)).toEqual(['priority']);
        }
        // In range (the bounds included) it is accepted.
        const ok = await api.app.inject({
          method: 'POST',
          url: '/v1/tasks',
          payload: { namespace: ns, name: 'work', context: { label: 'x' }, priority: 100 },
        });
        expect(ok.statusCode, ok.body).toBe(201);
        expect(ok.json<{ priority: number }>().priority).toBe(100);
      } finally {
        await api.close();
      }
      expect(await taskCount()).toBe(1);
    });

    it('Orchestrator.createTask throws a typed TASK_INVALID error and creates nothing', async () => {
      const before = await taskCount();
      const e = await engine.orchestrator
        .createTask({ namespace: ns, name: 'work', context: {}, priority: 101 })
        .catch((x: unknown) => x);
      expect(e).toBeInstanceOf(TaskerError);
      expect((e as TaskerError).code).toBe(ErrorCode.TaskInvalid);
      expect((e as TaskerError).message).toContain('between 0 and 100');
      expect((e as TaskerError).details).toMatchObject({ field: 'priority', min: 0, max: 100 });
      expect(await taskCount()).toBe(before);
    });

    it('create_task itself refuses it (TK422, mapped to TASK_INVALID) for callers that bypass createTask', async () => {
      const before = await taskCount();
      const e = await db.pool
        .query(`SELECT * FROM tasker.create_task($1, 'work', NULL, '{}', $2, 'test')`, [
          ns,
          JSON.stringify({
            priority: 500,
            priority_min: 0,
            priority_max: 100,
            priority_head_start_ms_per_level: 1,
          }),
        ])
        .catch((x: unknown) => x);
      expect((e as { code?: string }).code).toBe('TK422');
      const mapped = mapDbError(e);
      expect(mapped).toBeInstanceOf(TaskerError);
      expect((mapped as TaskerError).code).toBe(ErrorCode.TaskInvalid);
      expect(mapped.message).toContain('outside the allowed range 0 to 100');
      expect(await taskCount()).toBe(before);
    });
  });

  it("createTask's built-in settings are the base configuration's defaults", () => {
    expect(testConfig('postgresql://unused/db').orchestration.priority).toEqual(DEFAULT_PRIORITY_SETTINGS);
  });
});
