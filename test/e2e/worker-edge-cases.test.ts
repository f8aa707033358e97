/**
 * Edge cases of the worker's dispatch path (issue 4, seeds 000 and 002), each against a real PostgreSQL:
 * measured concurrency, semaphore exhaustion under load, a step claimed elsewhere, a namespace nobody serves, a
 * queue message deleted under a running handler, and a results queue that refuses writes for a while.
 */
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DeepPartial, TaskerConfig } from '../../src/config/index.js';
import { QUEUES, queueChannel, workerQueueName } from '../../src/contract/names.js';
import { defineTemplate } from '../../src/templates/index.js';
import { defineHandler, type HandlerDefinition } from '../../src/worker/handler.js';
import { createWorker, type Worker } from '../../src/worker/worker.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { startEngine, testConfig, waitForTask, type Engine } from '../support/engine.js';

/** Five independent steps: five ready steps per task at once. */
function wideTemplate(namespace: string) {
  return defineTemplate({ namespace, name: 'wide', version: '1.0.0' })
    .step('a', { handler: 'edge.work' })
    .step('b', { handler: 'edge.work' })
    .step('c', { handler: 'edge.work' })
    .step('d', { handler: 'edge.work' })
    .step('e', { handler: 'edge.work' })
    .build();
}
function oneStepTemplate(namespace: string) {
  return defineTemplate({ namespace, name: 'one', version: '1.0.0' })
    .step('only', { handler: 'edge.work' })
    .build();
}
function pairTemplate(namespace: string) {
  return defineTemplate({ namespace, name: 'pair', version: '1.0.0' })
    .step('first', { handler: 'edge.first' })
    .step('second', { handler: 'edge.second', dependsOn: ['first'] })
    .build();
}

const NS = {
  concurrency: 'edge_conc',
  exhaustion: 'edge_sem',
  claimed: 'edge_claimed',
  servedA: 'edge_ns_a',
  servedB: 'edge_ns_b',
  deleted: 'edge_msg_gone',
  resultsShort: 'edge_results_short',
  resultsLong: 'edge_results_long',
} as const;
/** One worker serving several namespaces: one claim loop each, sharing the worker's capacity. */
const MULTI = ['edge_multi_a', 'edge_multi_b', 'edge_multi_c', 'edge_multi_d'] as const;

const templates = [
  wideTemplate(NS.concurrency),
  oneStepTemplate(NS.exhaustion),
  pairTemplate(NS.claimed),
  oneStepTemplate(NS.servedA),
  oneStepTemplate(NS.servedB),
  pairTemplate(NS.deleted),
  pairTemplate(NS.resultsShort),
  pairTemplate(NS.resultsLong),
  ...MULTI.map(oneStepTemplate),
];

async function until(
  check: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 30_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A promise with its resolve function, for handlers the test holds and lets go. */
function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((r) => (open = r));
  return { promise, open };
}

/** Counts handler executions per task/step. */
class Executions {
  readonly #counts = new Map<string, number>();
  record(taskUuid: string, stepName: string): number {
    const key = `${taskUuid}/${stepName}`;
    const n = (this.#counts.get(key) ?? 0) + 1;
    this.#counts.set(key, n);
    return n;
  }
  of(taskUuid: string, stepName: string): number {
    return this.#counts.get(`${taskUuid}/${stepName}`) ?? 0;
  }
  get total(): number {
    let n = 0;
    for (const v of this.#counts.values()) n += v;
    return n;
  }
  get keys(): number {
    return this.#counts.size;
  }
}

/** Log lines written by a worker's pino logger, parsed. */
function captureLogs(): { logger: pino.Logger; lines: { level: number; msg: string; raw: string }[] } {
  const lines: { level: number; msg: string; raw: string }[] = [];
  const logger = pino(
    { level: 'warn' },
    {
      write: (raw: string) => {
        const parsed = JSON.parse(raw) as { level: number; msg: string };
        lines.push({ level: parsed.level, msg: parsed.msg, raw });
      },
    },
  );
  return { logger, lines };
}

describe('worker edge cases', () => {
  let db: TestDatabase;
  let engine: Engine;
  const workers: Worker[] = [];

  function worker(
    namespaces: string[],
    handlers: HandlerDefinition[],
    overrides: DeepPartial<TaskerConfig> = {},
    logger?: pino.Logger,
  ): Worker {
    const w = createWorker({
      config: testConfig(db.url, overrides),
      namespaces,
      handlers,
      ...(logger ? { logger } : {}),
    });
    workers.push(w);
    return w;
  }

  /** Waits until the worker's claim loop for `ns` has been woken `rounds` more times (polls or notifications). */
  async function claimRounds(w: Worker, ns: string, rounds: number): Promise<void> {
    const wakeups = w.channels.find((c) => c.stats().name === `worker.wakeups.${ns}`)!;
    const start = wakeups.stats().received;
    await until(() => wakeups.stats().received >= start + rounds, `${rounds} claim rounds in ${ns}`);
  }

  async function stepRow(
    taskUuid: string,
    name: string,
  ): Promise<{ step_uuid: string; state: string; attempts: number }> {
    const res = await db.pool.query<{ step_uuid: string; state: string; attempts: number }>(
      'SELECT step_uuid, state, attempts FROM tasker.workflow_steps WHERE task_uuid = $1 AND name = $2',
      [taskUuid, name],
    );
    return res.rows[0]!;
  }

  async function stepEvents(stepUuid: string): Promise<string[]> {
    const res = await db.pool.query<{ event: string }>(
      'SELECT event FROM tasker.workflow_step_transitions WHERE step_uuid = $1 ORDER BY sort_key',
      [stepUuid],
    );
    return res.rows.map((r) => r.event);
  }

  beforeAll(async () => {
    db = await createTestDatabase();
    // The orchestrator only; every test starts the workers it needs.
    engine = await startEngine(db, { templates, handlers: [], startWorker: false });
  });
  afterAll(async () => {
    for (const w of workers) await w.stop().catch(() => {});
    await engine?.stop();
    await db?.drop();
  });

  it('never runs more handlers at once than max_concurrent_handlers, reaches exactly that limit, and runs every step once', async () => {
    const LIMIT = 4;
    const TASKS = 20; // 100 ready steps, 25 times the limit
    let running = 0;
    let maxRunning = 0;
    const limitReached = gate();
    const executions = new Executions();
    const w = worker(
      [NS.concurrency],
      [
        defineHandler('edge.work', async (ctx) => {
          running += 1;
          maxRunning = Math.max(maxRunning, running);
          executions.record(ctx.taskUuid, ctx.stepName);
          if (running === LIMIT) limitReached.open();
          try {
            // The first handlers wait until the limit is reached once, so reaching it does not depend on timing;
            // after that every handler still overlaps with others for a moment.
            await limitReached.promise;
            await new Promise((r) => setTimeout(r, 2));
            return { step: ctx.stepName };
          } finally {
            running -= 1;
          }
        }),
      ],
      { worker: { max_concurrent_handlers: LIMIT, claim_batch_size: 3 } },
    );
    const created = await Promise.all(
      Array.from({ length: TASKS }, (_, i) =>
        engine.orchestrator.createTask({ namespace: NS.concurrency, name: 'wide', context: { i } }),
      ),
    );
    await w.start();
    const tasks = await Promise.all(created.map((c) => waitForTask(db.pool, c.taskUuid, 60_000)));
    expect(tasks.map((t) => t.state)).toEqual(Array(TASKS).fill('complete'));
    expect(maxRunning).toBe(LIMIT);
    expect(w.stats.maxHandlersRunning).toBe(LIMIT);
    expect(executions.keys).toBe(TASKS * 5);
    expect(executions.total).toBe(TASKS * 5);
    for (const t of tasks) {
      for (const s of t.steps) {
        expect(executions.of(t.taskUuid, s.name)).toBe(1);
        expect(s.attempts).toBe(1);
      }
    }
    expect(w.stats.claimed).toBe(TASKS * 5);
    expect(w.stats.completed).toBe(TASKS * 5);
    await w.stop();
  });

  it('with every handler slot busy, claims stop at handlers + one claim batch; nothing is lost once released', async () => {
    const LIMIT = 3;
    const BATCH = 2;
    const TASKS = 20;
    const release = gate();
    let running = 0;
    let maxRunning = 0;
    const executions = new Executions();
    const w = worker(
      [NS.exhaustion],
      [
        defineHandler('edge.work', async (ctx) => {
          running += 1;
          maxRunning = Math.max(maxRunning, running);
          executions.record(ctx.taskUuid, ctx.stepName);
          try {
            await release.promise;
            return { ok: true };
          } finally {
            running -= 1;
          }
        }),
      ],
      // Handlers are held far longer than this test takes: no timeout may free a slot.
      { worker: { max_concurrent_handlers: LIMIT, claim_batch_size: BATCH, handler_timeout_ms: 600_000 } },
    );
    const created = await Promise.all(
      Array.from({ length: TASKS }, (_, i) =>
        engine.orchestrator.createTask({ namespace: NS.exhaustion, name: 'one', context: { i } }),
      ),
    );
    let maxInFlight = 0;
    const sampler = setInterval(() => (maxInFlight = Math.max(maxInFlight, w.stats.inFlight)), 1);
    try {
      await w.start();
      await until(
        () => running === LIMIT && w.stats.claimed === LIMIT + BATCH,
        'all slots busy and one batch prefetched',
      );

      // Under load: more wake-ups (polls, plus a burst of notifications) while every slot stays busy.
      await db.pool.query(`SELECT pg_notify($1, g::text) FROM generate_series(1, 50) AS g`, [
        queueChannel(workerQueueName(NS.exhaustion)),
      ]);
      await claimRounds(w, NS.exhaustion, 10);

      expect(running).toBe(LIMIT);
      expect(w.stats.claimed).toBe(LIMIT + BATCH);
      expect(w.stats.inFlight).toBe(LIMIT + BATCH);
      expect(maxInFlight).toBeLessThanOrEqual(LIMIT + BATCH);
      const dispatch = w.channels.find((c) => c.stats().name === 'worker.dispatch')!.stats();
      expect(dispatch.highWaterMark).toBeLessThanOrEqual(BATCH);
      // In the database: exactly the claimed steps are in progress; the rest were never even read.
      const states = await db.pool.query<{ state: string; n: number }>(
        `SELECT s.state, count(*)::int AS n FROM tasker.workflow_steps s
         WHERE s.task_uuid = ANY($1) GROUP BY s.state ORDER BY s.state`,
        [created.map((c) => c.taskUuid)],
      );
      expect(states.rows).toEqual([
        { state: 'enqueued', n: TASKS - LIMIT - BATCH },
        { state: 'in_progress', n: LIMIT + BATCH },
      ]);
      const unread = await db.pool.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM tasker.queue_messages WHERE queue_name = $1 AND read_ct = 0`,
        [workerQueueName(NS.exhaustion)],
      );
      expect(unread.rows[0]!.n).toBe(TASKS - LIMIT - BATCH);
    } finally {
      release.open();
    }
    try {
      const tasks = await Promise.all(created.map((c) => waitForTask(db.pool, c.taskUuid, 60_000)));
      expect(tasks.map((t) => t.state)).toEqual(Array(TASKS).fill('complete'));
      for (const t of tasks) {
        expect(executions.of(t.taskUuid, 'only')).toBe(1);
        expect(t.steps[0]!.attempts).toBe(1);
      }
      expect(executions.total).toBe(TASKS);
      expect(maxRunning).toBe(LIMIT);
      expect(maxInFlight).toBeLessThanOrEqual(LIMIT + BATCH);
      expect(w.stats.claimed).toBe(TASKS);
      expect(w.stats.completed).toBe(TASKS);
      expect(w.stats.completionsRejected).toBe(0);
    } finally {
      clearInterval(sampler);
      await w.stop();
    }
  });

  it('claim loops of several namespaces share the capacity: never more than handlers + one batch in flight', async () => {
    const LIMIT = 3;
    const BATCH = 2;
    const release = gate();
    const w = worker(
      [...MULTI],
      [
        defineHandler('edge.work', async () => {
          await release.promise;
          return { ok: true };
        }),
      ],
      { worker: { max_concurrent_handlers: LIMIT, claim_batch_size: BATCH, handler_timeout_ms: 600_000 } },
    );
    const created = [];
    for (const ns of MULTI) {
      for (let i = 0; i < 10; i += 1) {
        created.push(await engine.orchestrator.createTask({ namespace: ns, name: 'one', context: { i } }));
      }
    }
    let maxInFlight = 0;
    const sampler = setInterval(() => (maxInFlight = Math.max(maxInFlight, w.stats.inFlight)), 1);
    try {
      await w.start();
      await until(() => w.stats.claimed >= LIMIT + BATCH, 'all slots busy and one batch prefetched');
      // Every namespace's loop keeps waking (polls plus notifications) while the capacity is used up.
      for (const ns of MULTI) {
        await db.pool.query(`SELECT pg_notify($1, g::text) FROM generate_series(1, 20) AS g`, [
          queueChannel(workerQueueName(ns)),
        ]);
      }
      for (const ns of MULTI) await claimRounds(w, ns, 5);
      expect(w.stats.claimed).toBe(LIMIT + BATCH);
      expect(maxInFlight).toBeLessThanOrEqual(LIMIT + BATCH);
      const inProgress = await db.pool.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM tasker.workflow_steps WHERE task_uuid = ANY($1) AND state = 'in_progress'`,
        [created.map((c) => c.taskUuid)],
      );
      expect(inProgress.rows[0]!.n).toBe(LIMIT + BATCH);
    } finally {
      release.open();
    }
    try {
      const tasks = await Promise.all(created.map((c) => waitForTask(db.pool, c.taskUuid, 60_000)));
      expect(tasks.every((t) => t.state === 'complete')).toBe(true);
      expect(maxInFlight).toBeLessThanOrEqual(LIMIT + BATCH);
    } finally {
      clearInterval(sampler);
      await w.stop();
    }
  });

  it('leaves a step claimed elsewhere alone, and continues the task once that claimer records the outcome', async () => {
    const queue = workerQueueName(NS.claimed);
    const executions = new Executions();
    const seen: unknown[] = [];
    const { taskUuid } = await engine.orchestrator.createTask({
      namespace: NS.claimed,
      name: 'pair',
      context: {},
    });
    // Another worker (here: SQL under the name 'elsewhere') holds the first step with a long lease.
    const claim = await db.pool.query<{ msg_id: string; step_uuid: string; attempt: number }>(
      `SELECT msg_id, step_uuid, attempt FROM tasker.claim_steps($1, 10, 600, 'elsewhere')`,
      [queue],
    );
    expect(claim.rows).toHaveLength(1);
    const held = claim.rows[0]!;

    const w = worker(
      [NS.claimed],
      [
        defineHandler('edge.first', (ctx) => {
          executions.record(ctx.taskUuid, ctx.stepName);
          return { from: 'test worker' };
        }),
        defineHandler('edge.second', (ctx) => {
          executions.record(ctx.taskUuid, ctx.stepName);
          seen.push(ctx.dependencyResults.first);
          return { ok: true };
        }),
      ],
    );
    await w.start();
    await claimRounds(w, NS.claimed, 5);
    expect(executions.of(taskUuid, 'first')).toBe(0);
    expect(w.stats.claimed).toBe(0);
    expect(await stepRow(taskUuid, 'first')).toMatchObject({ state: 'in_progress', attempts: 1 });

    const done = await db.pool.query<{ applied: boolean }>(
      `SELECT applied FROM tasker.complete_steps($1, 'elsewhere')`,
      [
        JSON.stringify([
          {
            step_uuid: held.step_uuid,
            msg_id: held.msg_id,
            attempt: held.attempt,
            success: true,
            results: { success: true, result: { from: 'elsewhere' } },
          },
        ]),
      ],
    );
    expect(done.rows).toEqual([{ applied: true }]);
    const task = await waitForTask(db.pool, taskUuid);
    expect(task.state).toBe('complete');
    expect(executions.of(taskUuid, 'first')).toBe(0);
    expect(executions.of(taskUuid, 'second')).toBe(1);
    expect(seen).toEqual([{ from: 'elsewhere' }]);
    expect(task.steps.find((s) => s.name === 'first')!.attempts).toBe(1);
    await w.stop();
  });

  it('never claims (or fails) a step of a namespace it does not serve; a worker for that namespace completes it', async () => {
    const executions = new Map<string, number>();
    const handler = defineHandler('edge.work', (ctx) => {
      executions.set(ctx.namespace, (executions.get(ctx.namespace) ?? 0) + 1);
      return { by: ctx.namespace };
    });
    const onlyA = worker([NS.servedA], [handler]);
    await onlyA.start();
    const b = await engine.orchestrator.createTask({ namespace: NS.servedB, name: 'one', context: {} });
    const a = await engine.orchestrator.createTask({ namespace: NS.servedA, name: 'one', context: {} });
    expect((await waitForTask(db.pool, a.taskUuid)).state).toBe('complete');
    // Worker A keeps claiming (polls and notifications) while B's step waits.
    await claimRounds(onlyA, NS.servedA, 5);

    expect(executions.get(NS.servedB)).toBeUndefined();
    expect(onlyA.stats.claimed).toBe(1);
    expect(onlyA.stats.failed).toBe(0);
    expect(await stepRow(b.taskUuid, 'only')).toMatchObject({ state: 'enqueued', attempts: 0 });
    const msgs = await db.pool.query<{ read_ct: number }>(
      `SELECT read_ct FROM tasker.queue_messages WHERE queue_name = $1`,
      [workerQueueName(NS.servedB)],
    );
    expect(msgs.rows).toEqual([{ read_ct: 0 }]);
    const view = await engine.orchestrator.getTask(b.taskUuid);
    expect(view?.state).not.toBe('error');

    const forB = worker([NS.servedB], [handler]);
    await forB.start();
    const task = await waitForTask(db.pool, b.taskUuid);
    expect(task.state).toBe('complete');
    expect(task.steps[0]!.attempts).toBe(1);
    expect(task.steps[0]!.result).toEqual({ by: NS.servedB });
    expect(executions.get(NS.servedB)).toBe(1);
    expect(onlyA.stats.claimed).toBe(1);
    await forB.stop();
    await onlyA.stop();
  });

  it('records the outcome of a step whose queue message was deleted while its handler ran', async () => {
    const started = gate();
    const release = gate();
    const executions = new Executions();
    let running: { stepUuid: string } | undefined;
    const w = worker(
      [NS.deleted],
      [
        defineHandler('edge.first', async (ctx) => {
          executions.record(ctx.taskUuid, ctx.stepName);
          running = { stepUuid: ctx.stepUuid };
          started.open();
          await release.promise;
          return { survived: true };
        }),
        defineHandler('edge.second', (ctx) => {
          executions.record(ctx.taskUuid, ctx.stepName);
          return { saw: ctx.dependencyResults.first };
        }),
      ],
      // Heartbeats run often, so some of them try to extend the lease of the missing message.
      { worker: { heartbeat_interval_ms: 100 } },
    );
    await w.start();
    const { taskUuid } = await engine.orchestrator.createTask({
      namespace: NS.deleted,
      name: 'pair',
      context: {},
    });
    await started.promise;
    const deleted = await db.pool.query(
      `DELETE FROM tasker.queue_messages WHERE queue_name = $1 AND message->>'step_uuid' = $2`,
      [workerQueueName(NS.deleted), running!.stepUuid],
    );
    expect(deleted.rowCount).toBe(1);
    // Let a few heartbeats meet the missing message before the handler finishes.
    await new Promise((r) => setTimeout(r, 350));
    release.open();

    // complete_steps is a compare-and-swap on the step row (state in_progress, same attempt), not on the
    // message: the outcome is recorded, deleting the already-deleted message is a no-op, and the task goes on.
    const task = await waitForTask(db.pool, taskUuid);
    expect(task.state).toBe('complete');
    const first = task.steps.find((s) => s.name === 'first')!;
    expect(first.attempts).toBe(1);
    expect(first.result).toEqual({ survived: true });
    expect(task.steps.find((s) => s.name === 'second')!.result).toEqual({ saw: { survived: true } });
    expect(executions.of(taskUuid, 'first')).toBe(1);
    expect(executions.of(taskUuid, 'second')).toBe(1);
    expect(w.stats.completionsRejected).toBe(0);
    expect(await stepEvents(first.stepUuid)).toEqual([
      'Create',
      'Enqueue',
      'Start',
      'EnqueueForOrchestration',
      'Complete',
    ]);
    await w.stop();
  });

  describe('results queue unavailable', () => {
    /**
     * A real fault in PostgreSQL: while a row is in test_faults, every insert into the step results queue raises.
     * complete_steps writes the outcome and the result message in one transaction, so the whole write fails.
     */
    beforeAll(async () => {
      await db.pool.query(`
        CREATE TABLE IF NOT EXISTS public.test_faults (name text PRIMARY KEY);
        CREATE OR REPLACE FUNCTION public.test_refuse_step_results() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          IF NEW.queue_name = '${QUEUES.StepResults}' AND EXISTS (SELECT 1 FROM public.test_faults WHERE name = 'results') THEN
            RAISE EXCEPTION 'results queue unavailable (injected fault)';
          END IF;
          RETURN NEW;
        END $$;
        DROP TRIGGER IF EXISTS test_refuse_step_results ON tasker.queue_messages;
        CREATE TRIGGER test_refuse_step_results BEFORE INSERT ON tasker.queue_messages
          FOR EACH ROW EXECUTE FUNCTION public.test_refuse_step_results();
      `);
    });
    afterAll(async () => {
      await db.pool.query(`
        DROP TRIGGER IF EXISTS test_refuse_step_results ON tasker.queue_messages;
        DROP FUNCTION IF EXISTS public.test_refuse_step_results();
        DROP TABLE IF EXISTS public.test_faults;
      `);
    });
    const faultOn = async (): Promise<void> =>
      void (await db.pool.query(`INSERT INTO public.test_faults VALUES ('results') ON CONFLICT DO NOTHING`));
    const faultOff = async (): Promise<void> =>
      void (await db.pool.query(`DELETE FROM public.test_faults WHERE name = 'results'`));

    function handlers(executions: Executions): HandlerDefinition[] {
      return [
        defineHandler('edge.first', (ctx) => {
          executions.record(ctx.taskUuid, ctx.stepName);
          return { attempt: ctx.attempt };
        }),
        defineHandler('edge.second', (ctx) => {
          executions.record(ctx.taskUuid, ctx.stepName);
          return { saw: ctx.dependencyResults.first };
        }),
      ];
    }
    const retrying = 'writing step outcomes failed; retrying';
    const gaveUp =
      'could not write step outcomes; the steps will be claimed again after their visibility timeout';

    it('a short outage: the failed completion write is retried and recorded once the fault is gone', async () => {
      const executions = new Executions();
      const { logger, lines } = captureLogs();
      const w = worker(
        [NS.resultsShort],
        handlers(executions),
        // A long visibility timeout: the worker keeps retrying the write for that long, well past this outage.
        {
          common: { queues: { visibility_timeout_seconds: 60 } },
          worker: { resolve_in_completion: false },
        },
        logger,
      );
      await faultOn();
      try {
        await w.start();
        const { taskUuid } = await engine.orchestrator.createTask({
          namespace: NS.resultsShort,
          name: 'pair',
          context: {},
        });
        await until(() => lines.filter((l) => l.msg === retrying).length >= 3, 'three failed writes');
        // The write really failed: the step is still in progress and no result message exists.
        expect(await stepRow(taskUuid, 'first')).toMatchObject({ state: 'in_progress', attempts: 1 });
        const results = await db.pool.query(`SELECT 1 FROM tasker.queue_messages WHERE queue_name = $1`, [
          QUEUES.StepResults,
        ]);
        expect(results.rowCount).toBe(0);
        expect(lines.find((l) => l.msg === retrying)!.raw).toContain('results queue unavailable');
        expect(w.breaker.state).toBe('closed'); // an answer from the database, not an outage of it
        await faultOff();

        const task = await waitForTask(db.pool, taskUuid);
        expect(task.state).toBe('complete');
        const first = task.steps.find((s) => s.name === 'first')!;
        expect(first.attempts).toBe(1);
        expect(first.result).toEqual({ attempt: 1 });
        expect(executions.of(taskUuid, 'first')).toBe(1);
        expect(executions.of(taskUuid, 'second')).toBe(1);
        expect(lines.some((l) => l.msg === gaveUp)).toBe(false);
        expect(w.stats.completed).toBe(2);
      } finally {
        await faultOff();
        await w.stop();
      }
    });

    it('an outage longer than the visibility timeout: the worker gives up, the step runs again and completes', async () => {
      const executions = new Executions();
      const { logger, lines } = captureLogs();
      const w = worker(
        [NS.resultsLong],
        handlers(executions),
        {
          common: { queues: { visibility_timeout_seconds: 2 } },
          worker: { resolve_in_completion: false, heartbeat_interval_ms: 200 },
        },
        logger,
      );
      await faultOn();
      try {
        await w.start();
        const { taskUuid } = await engine.orchestrator.createTask({
          namespace: NS.resultsLong,
          name: 'pair',
          context: {},
        });
        await until(() => lines.some((l) => l.msg === gaveUp), 'the worker to give up the write');
        expect(lines.filter((l) => l.msg === retrying).length).toBeGreaterThanOrEqual(1);
        expect(await stepRow(taskUuid, 'first')).toMatchObject({ state: 'in_progress', attempts: 1 });
        expect(w.stats.inFlight).toBe(0); // forgotten here; its message comes back after the timeout
        await faultOff();

        const task = await waitForTask(db.pool, taskUuid);
        expect(task.state).toBe('complete');
        const first = task.steps.find((s) => s.name === 'first')!;
        expect(first.attempts).toBe(2);
        expect(first.result).toEqual({ attempt: 2 });
        expect(task.steps.find((s) => s.name === 'second')!.result).toEqual({ saw: { attempt: 2 } });
        expect(executions.of(taskUuid, 'first')).toBe(2);
        expect(executions.of(taskUuid, 'second')).toBe(1);
        expect(await stepEvents(first.stepUuid)).toEqual([
          'Create',
          'Enqueue',
          'Start',
          'LeaseExpired',
          'Start',
          'EnqueueForOrchestration',
          'Complete',
        ]);
      } finally {
        await faultOff();
        await w.stop();
      }
    });
  });
});
