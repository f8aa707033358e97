import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defineTemplate } from '../../src/templates/index.js';
import { defineHandler } from '../../src/worker/handler.js';
import { createWorker } from '../../src/worker/worker.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { startEngine, testConfig, waitForTask, type Engine } from '../support/engine.js';

const ns = 'shutdown_e2e';
const wide = defineTemplate({ namespace: ns, name: 'wide', version: '1.0.0' })
  .step('a', { handler: 'hold' })
  .step('b', { handler: 'hold' })
  .step('c', { handler: 'hold' })
  .step('d', { handler: 'hold' })
  .build();

async function until(check: () => boolean | Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('worker shutdown during execution', () => {
  let db: TestDatabase;
  let engine: Engine;

  beforeAll(async () => {
    db = await createTestDatabase();
    engine = await startEngine(db, { templates: [wide], handlers: [], startWorker: false });
  });
  afterAll(async () => {
    await engine?.stop();
    await db?.drop();
  });

  it('hands back claimed steps that never started, aborts the running one after the grace period, loses nothing', async () => {
    let started = 0;
    let aborted = 0;
    const stopping = createWorker({
      config: testConfig(db.url, {
        worker: { max_concurrent_handlers: 1, claim_batch_size: 4, shutdown_timeout_ms: 300 },
      }),
      namespaces: [ns],
      handlers: [
        defineHandler(
          'hold',
          (ctx) =>
            new Promise((_, reject) => {
              started += 1;
              ctx.signal.addEventListener('abort', () => {
                aborted += 1;
                reject(new Error('stopped'));
              });
            }),
        ),
      ],
    });
    await stopping.start();
    const { taskUuid } = await engine.orchestrator.createTask({ namespace: ns, name: 'wide', context: {} });
    await until(() => stopping.stats.claimed === 4 && started === 1, 'four claims and one running handler');

    await stopping.stop(); // returns: the hung handler is aborted after 300 ms
    expect(started).toBe(1);
    expect(aborted).toBe(1);
    expect(stopping.stats.releasedOnShutdown).toBe(3);
    // The three handed-back steps are visible to other workers at once, not after their visibility timeout.
    const visible = await db.pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM tasker.queue_messages m
       JOIN tasker.workflow_steps s ON s.step_uuid = (m.message->>'step_uuid')::uuid
       WHERE s.task_uuid = $1 AND m.vt <= now()`,
      [taskUuid],
    );
    expect(visible.rows[0]!.n).toBeGreaterThanOrEqual(3);

    const next = createWorker({
      config: engine.config,
      namespaces: [ns],
      handlers: [defineHandler('hold', (ctx) => ({ step: ctx.stepName, attempt: ctx.attempt }))],
    });
    await next.start();
    try {
      const task = await waitForTask(db.pool, taskUuid, 30_000);
      expect(task.state).toBe('complete');
      expect(task.steps.every((s) => s.state === 'complete')).toBe(true);
    } finally {
      await next.stop();
    }
  });
});
