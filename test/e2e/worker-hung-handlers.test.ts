/**
 * Handlers that never settle and ignore their abort signal: their slots are freed after
 * `worker.abandon_timeout_ms` (abandoned, counted, visible in /health and /metrics), a worker never extends the
 * lease of a step it has not started (so a healthy worker gets it), and shutdown is bounded.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DeepPartial, TaskerConfig } from '../../src/config/index.js';
import { createWorkerWebServer } from '../../src/api/worker-server.js';
import { defineTemplate } from '../../src/templates/index.js';
import { defineHandler, type HandlerDefinition } from '../../src/worker/handler.js';
import { createWorker, type Worker } from '../../src/worker/worker.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { startEngine, testConfig, waitForTask, type Engine } from '../support/engine.js';
import { exitCode, startCli } from '../support/cli-process.js';
import { gate, until } from '../support/wait.js';

const ns = 'hung_e2e';
const once = { retryable: false, maxAttempts: 1 };
const hangOrNot = defineTemplate({ namespace: ns, name: 'hang_or_not', version: '1.0.0' })
  .step('work', { handler: 'hung.maybe', retry: once })
  .build();
const timesOut = defineTemplate({ namespace: ns, name: 'times_out', version: '1.0.0' })
  .step('work', { handler: 'hung.maybe', retry: once, timeoutMs: 300 })
  .build();
const forever = defineTemplate({ namespace: `${ns}_cli`, name: 'forever', version: '1.0.0' })
  .step('work', { handler: 'hung.forever', retry: once, timeoutMs: 120_000 })
  .build();

describe('hung handlers', () => {
  let db: TestDatabase;
  let engine: Engine;

  beforeAll(async () => {
    db = await createTestDatabase();
    engine = await startEngine(db, {
      templates: [hangOrNot, timesOut, forever],
      handlers: [],
      startWorker: false,
    });
  });
  afterAll(async () => {
    await engine?.stop();
    await db?.drop();
  });

  function worker(handlers: HandlerDefinition[], overrides: DeepPartial<TaskerConfig> = {}): Worker {
    return createWorker({ config: testConfig(db.url, overrides), namespaces: [ns], handlers });
  }

  /** Hangs (never settles, ignores its signal) when the task context says so, until `release` opens. */
  function maybeHang(release: Promise<void>, started: string[] = []): HandlerDefinition {
    return defineHandler('hung.maybe', async (ctx) => {
      started.push(ctx.taskUuid);
      if (ctx.context.hang === true) await release;
      return { done: true };
    });
  }

  async function create(name: string, context: Record<string, unknown>): Promise<string> {
    return (await engine.orchestrator.createTask({ namespace: ns, name, context })).taskUuid;
  }

  it('never extends the lease of a claimed step it has not started: a healthy worker takes it', async () => {
    const held = gate();
    const hungStarted: string[] = [];
    const wedged = worker([maybeHang(held.promise, hungStarted)], {
      common: { queues: { visibility_timeout_seconds: 2 } },
      worker: {
        max_concurrent_handlers: 3,
        claim_batch_size: 4,
        heartbeat_interval_ms: 100,
        shutdown_timeout_ms: 100,
        abandon_timeout_ms: 200,
      },
    });
    await wedged.start();
    const tasks: string[] = [];
    for (let i = 0; i < 7; i++) tasks.push(await create('hang_or_not', { hang: true }));
    await until(() => wedged.stats.claimed === 7 && hungStarted.length === 3, '7 claimed, 3 hung handlers');

    const healthyRuns: string[] = [];
    const healthy = worker([
      defineHandler('hung.maybe', (ctx) => {
        healthyRuns.push(ctx.taskUuid);
        return { done: true, attempt: ctx.attempt };
      }),
    ]);
    await healthy.start();
    try {
      const waiting = tasks.filter((t) => !hungStarted.includes(t));
      for (const t of waiting) {
        const task = await waitForTask(db.pool, t);
        expect(task.state).toBe('complete');
        expect(task.steps[0]!.attempts).toBe(1);
      }
      expect(wedged.stats.releasedNotStarted).toBe(4);
      expect(healthyRuns.sort()).toEqual([...waiting].sort());

      // Shutdown is bounded although three handlers ignore their signal: they are abandoned and their steps
      // handed back without an attempt used, so the healthy worker completes them too.
      await wedged.stop();
      expect(wedged.stats.abortedOnShutdown).toBe(3);
      for (const t of hungStarted) {
        const task = await waitForTask(db.pool, t);
        expect(task.state).toBe('complete');
        expect(task.steps[0]!.attempts).toBe(1);
      }
    } finally {
      held.open();
      await wedged.stop();
      await healthy.stop();
    }
  });

  it('a timed-out handler that ignores its signal is abandoned: its slot is freed and /health says so', async () => {
    const held = gate();
    const w = worker([maybeHang(held.promise)], {
      worker: { max_concurrent_handlers: 3, abandon_timeout_ms: 200 },
    });
    await w.start();
    const web = await createWorkerWebServer({ worker: w, config: testConfig(db.url) });
    try {
      const hung = [];
      for (let i = 0; i < 3; i++) hung.push(await create('times_out', { hang: true }));
      for (const t of hung) {
        const task = await waitForTask(db.pool, t);
        expect(task.state).toBe('error');
        expect((task.steps[0]!.error as { code: string }).code).toBe('HANDLER_TIMEOUT');
      }
      await until(() => w.stats.abandonedHandlers === 3, 'three abandoned handlers');
      const report = await web.health();
      expect(report.status).toBe('degraded');
      expect(report.handlers.abandoned).toBe(3);
      expect(report.degraded_reasons.join(' ')).toContain('3 abandoned handler(s) still running');
      const metrics = await web.registry.metrics();
      expect(metrics).toContain('tasker_handlers_abandoned_running 3');
      expect(metrics).toContain('tasker_handlers_abandoned_total{handler="hung.maybe"} 3');

      // Every slot was held by a hung handler; they are free again, so new work runs here.
      const next = await create('hang_or_not', {});
      expect((await waitForTask(db.pool, next)).state).toBe('complete');

      held.open();
      await until(() => w.stats.abandonedHandlers === 0, 'the abandoned handlers to return');
      const after = await web.health();
      // (Its status may still be degraded for reasons of the machine, e.g. event-loop delay under load.)
      expect(after.degraded_reasons).toEqual([]);
      expect(after.handlers.abandoned).toBe(0);
      expect(w.stats.abandonedHandlersTotal).toBe(3);
    } finally {
      held.open();
      await web.close();
      await w.stop();
    }
  });

  it('`tasker worker` with hung handlers exits after SIGTERM, handing their steps back', async () => {
    const cliNs = `${ns}_cli`;
    const env = {
      ...process.env,
      TASKER_ENV: 'test',
      DATABASE_URL: db.url,
      TASKER_WORKER_WEB_PORT: '0',
    };
    const child = startCli(
      ['worker', '--handlers', 'test/fixtures/hung-handlers.ts', '--namespace', cliNs],
      env,
    );
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    try {
      const taskUuid = (
        await engine.orchestrator.createTask({ namespace: cliNs, name: 'forever', context: {} })
      ).taskUuid;
      await until(() => out.includes('STARTED'), 'the handler to start', 60_000);
      child.kill('SIGTERM');
      // Test config: shutdown_timeout_ms 5000 + abandon_timeout_ms 1000; the bound is generous on purpose.
      const code = await Promise.race([
        exitCode(child),
        new Promise<'still running'>((r) => setTimeout(() => r('still running'), 30_000)),
      ]);
      expect(code, out).toBe(0);
      const step = await db.pool.query<{ state: string; attempts: number }>(
        `SELECT state, attempts FROM tasker.workflow_steps WHERE task_uuid = $1`,
        [taskUuid],
      );
      expect(step.rows[0]).toEqual({ state: 'enqueued', attempts: 0 });
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
});
