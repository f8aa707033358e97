/**
 * Graceful shutdown costs no attempt: steps a stopping worker claimed but never started, and handlers it aborts
 * because its grace period ran out, go back to the queue with their attempt given back. A rolling restart of
 * every worker during a run of steps that have one attempt and no retry therefore loses nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DeepPartial, TaskerConfig } from '../../src/config/index.js';
import { defineTemplate } from '../../src/templates/index.js';
import { defineHandler, type HandlerDefinition } from '../../src/worker/handler.js';
import { createWorker, type Worker } from '../../src/worker/worker.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { startEngine, testConfig, waitForTask, type Engine } from '../support/engine.js';
import { Executions, until } from '../support/wait.js';

const ns = 'restarts_e2e';
const once = { retryable: false, maxAttempts: 1 };
let wide: ReturnType<typeof defineTemplate> = defineTemplate({
  namespace: ns,
  name: 'wide8',
  version: '1.0.0',
});
for (let i = 0; i < 8; i++) wide = wide.step(`s${i}`, { handler: 'restart.step', retry: once });
const wide8 = wide.build();
const pair = defineTemplate({ namespace: ns, name: 'pair', version: '1.0.0' })
  .step('first', { handler: 'restart.step', retry: once })
  .step('second', { handler: 'restart.step', dependsOn: ['first'], retry: once })
  .build();

describe('worker shutdown and rolling restarts', () => {
  let db: TestDatabase;
  let engine: Engine;

  beforeAll(async () => {
    db = await createTestDatabase();
    engine = await startEngine(db, { templates: [wide8, pair], handlers: [], startWorker: false });
  });
  afterAll(async () => {
    await engine?.stop();
    await db?.drop();
  });

  function worker(
    handlers: HandlerDefinition[],
    overrides: DeepPartial<TaskerConfig>['worker'] = {},
  ): Worker {
    return createWorker({
      config: testConfig(db.url, { worker: overrides }),
      namespaces: [ns],
      handlers,
    });
  }

  async function stepEvents(taskUuid: string): Promise<{ event: string; metadata: unknown }[]> {
    const res = await db.pool.query<{ event: string; metadata: unknown }>(
      `SELECT t.event, t.metadata FROM tasker.workflow_step_transitions t
       JOIN tasker.workflow_steps s ON s.step_uuid = t.step_uuid WHERE s.task_uuid = $1`,
      [taskUuid],
    );
    return res.rows;
  }

  it('hands back unstarted and aborted steps without using their one attempt; the task completes', async () => {
    const executions = new Executions();
    let running = 0;
    const stopping = worker(
      [
        defineHandler(
          'restart.step',
          (ctx) =>
            new Promise((_, reject) => {
              executions.record(ctx.taskUuid, ctx.stepName);
              running += 1;
              ctx.signal.addEventListener('abort', () => reject(new Error('stopped')));
            }),
        ),
      ],
      { max_concurrent_handlers: 5, claim_batch_size: 8, shutdown_timeout_ms: 200 },
    );
    await stopping.start();
    const { taskUuid } = await engine.orchestrator.createTask({ namespace: ns, name: 'wide8', context: {} });
    await until(() => stopping.stats.claimed === 8 && running === 5, '8 claimed steps, 5 of them running');

    // A healthy second worker is running when the first one stops.
    const healthy = worker([
      defineHandler('restart.step', (ctx) => {
        executions.record(ctx.taskUuid, ctx.stepName);
        return { attempt: ctx.attempt };
      }),
    ]);
    await healthy.start();
    try {
      await stopping.stop();
      expect(stopping.stats.releasedOnShutdown).toBe(3);
      expect(stopping.stats.abortedOnShutdown).toBe(5);

      const task = await waitForTask(db.pool, taskUuid);
      expect(task.state).toBe('complete');
      for (const step of task.steps) {
        expect(step.state).toBe('complete');
        expect(step.attempts).toBe(1); // the healthy worker's run is the first attempt that counts
        expect(step.result).toEqual({ attempt: 1 });
      }
      expect(executions.total).toBe(8 + 5); // the 3 unstarted steps ran once, the 5 aborted ones twice
      const events = await stepEvents(taskUuid);
      expect(events.filter((e) => e.event === 'LeaseExpired')).toHaveLength(0);
      const released = events.filter((e) => e.event === 'Release');
      expect(released).toHaveLength(8);
      expect(
        released.every((e) => (e.metadata as { attempt_counted: boolean }).attempt_counted === false),
      ).toBe(true);
      const dlq = await db.pool.query(`SELECT 1 FROM tasker.tasks_dlq WHERE task_uuid = $1`, [taskUuid]);
      expect(dlq.rowCount).toBe(0);
    } finally {
      await healthy.stop();
    }
  });

  it('a rolling restart of every worker during 1,000 tasks of one-attempt steps ends with every task complete', async () => {
    const executions = new Executions();
    const handlers = (): HandlerDefinition[] => [
      defineHandler('restart.step', async (ctx) => {
        executions.record(ctx.taskUuid, ctx.stepName);
        // Some handlers are still running when their worker stops; they honour their signal.
        const ms = ctx.stepName === 'first' ? 1 : 120;
        await new Promise((resolve, reject) => {
          const timer = setTimeout(resolve, ms);
          ctx.signal.addEventListener('abort', () => {
            clearTimeout(timer);
            reject(new Error('aborted'));
          });
        });
        return { step: ctx.stepName };
      }),
    ];
    const settings = { shutdown_timeout_ms: 100 };
    const workers = [
      worker(handlers(), settings),
      worker(handlers(), settings),
      worker(handlers(), settings),
    ];
    for (const w of workers) await w.start();
    const tasks: string[] = [];
    for (let i = 0; i < 1000; i += 100) {
      const batch = await Promise.all(
        Array.from({ length: 100 }, () =>
          engine.orchestrator.createTask({ namespace: ns, name: 'pair', context: {} }),
        ),
      );
      tasks.push(...batch.map((t) => t.taskUuid));
    }
    const finished = async (): Promise<number> => {
      const res = await db.pool.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM tasker.tasks WHERE task_uuid = ANY($1) AND state IN ('complete', 'error')`,
        [tasks],
      );
      return res.rows[0]!.n;
    };
    let released = 0;
    try {
      // One worker at a time: stop it mid-run, start its replacement, go on to the next.
      for (let i = 0; i < workers.length; i++) {
        const before = await finished();
        await until(
          async () => (await finished()) >= before + 100,
          'progress before the next restart',
          60_000,
        );
        const old = workers[i]!;
        await old.stop();
        released += old.stats.releasedOnShutdown + old.stats.abortedOnShutdown;
        workers[i] = worker(handlers(), settings);
        await workers[i]!.start();
      }
      await until(async () => (await finished()) === tasks.length, 'every task to finish', 120_000);
    } finally {
      for (const w of workers) await w.stop();
    }
    const states = await db.pool.query<{ state: string; n: number }>(
      `SELECT state, count(*)::int AS n FROM tasker.tasks WHERE task_uuid = ANY($1) GROUP BY state`,
      [tasks],
    );
    expect(states.rows).toEqual([{ state: 'complete', n: 1000 }]);
    const steps = await db.pool.query<{ n: number; max_attempts: number }>(
      `SELECT count(*)::int AS n, max(attempts)::int AS max_attempts FROM tasker.workflow_steps
       WHERE task_uuid = ANY($1) AND state = 'complete'`,
      [tasks],
    );
    expect(steps.rows[0]).toEqual({ n: 2000, max_attempts: 1 });
    expect(executions.total).toBeGreaterThanOrEqual(2000);
    // The restarts really happened mid-run: steps were handed back.
    expect(released).toBeGreaterThan(0);
  });
});
