/**
 * A step whose task is cancelled before its handler starts is never started: no handler call, and the attempt
 * it was claimed with is given back. Handlers already running get their signal (tested elsewhere).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { acquireSharedListener } from '../../src/messaging/listener.js';
import { CHANNELS } from '../../src/contract/names.js';
import { cancelTask } from '../../src/orchestration/operations.js';
import { defineTemplate } from '../../src/templates/index.js';
import { defineHandler } from '../../src/worker/handler.js';
import { createWorker } from '../../src/worker/worker.js';
import { silentLogger } from '../../src/observability/logger.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { startEngine, testConfig, waitForTask, type Engine } from '../support/engine.js';
import { Executions, gate, until } from '../support/wait.js';

const ns = 'cancel_race_e2e';
const single = defineTemplate({ namespace: ns, name: 'single', version: '1.0.0' })
  .step('only', { handler: 'cancel.held' })
  .build();
const chain = defineTemplate({ namespace: ns, name: 'chain', version: '1.0.0' })
  .step('a', { handler: 'cancel.short' })
  .step('b', { handler: 'cancel.short', dependsOn: ['a'] })
  .step('c', { handler: 'cancel.short', dependsOn: ['b'] })
  .build();

/** A small deterministic generator, so a failing run can be repeated. */
function seeded(seed: number): () => number {
  let x = seed;
  return () => {
    x = (x * 1103515245 + 12345) % 2147483648;
    return x / 2147483648;
  };
}

describe('cancellation before a handler starts', () => {
  let db: TestDatabase;
  let engine: Engine;

  beforeAll(async () => {
    db = await createTestDatabase();
    engine = await startEngine(db, { templates: [single, chain], handlers: [], startWorker: false });
  });
  afterAll(async () => {
    await engine?.stop();
    await db?.drop();
  });

  it('a claimed step waiting for a slot is not started once its task is cancelled, and uses no attempt', async () => {
    const busy = gate();
    const calls: string[] = [];
    const w = createWorker({
      config: testConfig(db.url, { worker: { max_concurrent_handlers: 1, claim_batch_size: 2 } }),
      namespaces: [ns],
      handlers: [
        defineHandler('cancel.held', async (ctx) => {
          calls.push(ctx.taskUuid);
          if (calls.length === 1) await busy.promise;
          return { ok: true };
        }),
      ],
    });
    await w.start();
    // Subscribed after the worker: the listener calls subscribers in order, so this runs once the worker has
    // heard of the cancellation. Only then does the busy slot free up.
    const shared = await acquireSharedListener({
      url: testConfig(db.url).common.database.url,
      logger: silentLogger(),
      reconnectMinMs: 100,
      reconnectMaxMs: 1000,
    });
    try {
      const first = (await engine.orchestrator.createTask({ namespace: ns, name: 'single', context: {} }))
        .taskUuid;
      await until(() => calls.length === 1, 'the first handler to hold the only slot');
      const second = (await engine.orchestrator.createTask({ namespace: ns, name: 'single', context: {} }))
        .taskUuid;
      await until(() => w.stats.claimed === 2, 'the second step to be claimed (waiting for the slot)');
      const unsubscribe = await shared.listener.subscribe(CHANNELS.Cancellations, (_c, payload) => {
        if (payload?.includes(second)) busy.open();
      });
      await cancelTask(db.pool, second, { reason: 'test' });
      await until(() => w.stats.cancelledBeforeStart === 1, 'the cancelled step to be dropped');
      unsubscribe();

      expect((await waitForTask(db.pool, first)).state).toBe('complete');
      expect(calls).toEqual([first]);
      const step = await db.pool.query<{ state: string; attempts: number; messages: number }>(
        `SELECT s.state, s.attempts,
                (SELECT count(*)::int FROM tasker.queue_messages m WHERE (m.message->>'step_uuid')::uuid = s.step_uuid)
                  AS messages
         FROM tasker.workflow_steps s WHERE s.task_uuid = $1`,
        [second],
      );
      expect(step.rows[0]).toEqual({ state: 'cancelled', attempts: 0, messages: 0 });
    } finally {
      busy.open();
      await shared.release();
      await w.stop();
    }
  });

  it('30 chains cancelled at random moments: no handler starts after its worker heard of the cancellation', async () => {
    const executions = new Executions();
    const startedAborted: string[] = [];
    const w = createWorker({
      config: testConfig(db.url, { worker: { max_concurrent_handlers: 1, claim_batch_size: 10 } }),
      namespaces: [ns],
      handlers: [
        defineHandler('cancel.short', async (ctx) => {
          executions.record(ctx.taskUuid, ctx.stepName);
          if (ctx.signal.aborted) startedAborted.push(`${ctx.taskUuid}/${ctx.stepName}`);
          await new Promise((r) => setTimeout(r, 20));
          return { step: ctx.stepName };
        }),
      ],
    });
    await w.start();
    const random = seeded(Number(process.env.TASKER_CANCEL_SEED ?? 7));
    try {
      const tasks: string[] = [];
      for (let i = 0; i < 30; i++) {
        tasks.push(
          (await engine.orchestrator.createTask({ namespace: ns, name: 'chain', context: {} })).taskUuid,
        );
      }
      // Cancelled at random moments while the worker holds claimed steps waiting for its one slot.
      await Promise.all(
        tasks.map(async (taskUuid) => {
          await new Promise((r) => setTimeout(r, Math.floor(random() * 400)));
          await cancelTask(db.pool, taskUuid, { reason: 'random' }).catch(() => undefined); // may have finished
        }),
      );
      for (const t of tasks) {
        expect(['cancelled', 'complete']).toContain((await waitForTask(db.pool, t)).state);
      }
      await until(() => w.stats.inFlight === 0, 'the worker to settle every claimed step');

      expect(startedAborted).toEqual([]);
      // Every attempt recorded on a step is a handler call: no attempt was used by a step that never ran.
      const steps = await db.pool.query<{ task_uuid: string; name: string; attempts: number }>(
        `SELECT task_uuid, name, attempts FROM tasker.workflow_steps WHERE task_uuid = ANY($1)`,
        [tasks],
      );
      for (const s of steps.rows) {
        expect(s.attempts, `${s.task_uuid}/${s.name}`).toBe(executions.of(s.task_uuid, s.name));
      }
      const cancelled = await db.pool.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM tasker.tasks WHERE task_uuid = ANY($1) AND state = 'cancelled'`,
        [tasks],
      );
      expect(cancelled.rows[0]!.n).toBeGreaterThan(0);
    } finally {
      await w.stop();
    }
  });
});
