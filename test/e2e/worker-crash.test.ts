import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defineTemplate } from '../../src/templates/index.js';
import { defineHandler } from '../../src/worker/handler.js';
import { createWorker } from '../../src/worker/worker.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { startEngine, testConfig, waitForTask, type Engine } from '../support/engine.js';

const ns = 'crash_e2e';
const template = defineTemplate({ namespace: ns, name: 'victim', version: '1.0.0' })
  .step('victim', { handler: 'blocker' })
  .step('after', { handler: 'after', dependsOn: ['victim'] })
  .build();
const overrides = { common: { queues: { visibility_timeout_seconds: 2 } } };

function waitForLine(child: ChildProcess, prefix: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let buffer = '';
    const onData = (chunk: Buffer): void => {
      buffer += chunk.toString();
      const line = buffer.split('\n').find((l) => l.startsWith(prefix));
      if (line) {
        child.stdout!.off('data', onData);
        resolve(line);
      }
    };
    child.stdout!.on('data', onData);
    child.once('exit', (code) =>
      reject(new Error(`worker process exited (${code}) before printing ${prefix}`)),
    );
  });
}

describe('a worker killed with SIGKILL mid-step', () => {
  let db: TestDatabase;
  let engine: Engine;
  let child: ChildProcess | undefined;

  beforeAll(async () => {
    db = await createTestDatabase();
    // The orchestrator only; workers come and go in the test.
    engine = await startEngine(db, { templates: [template], handlers: [], overrides, startWorker: false });
  });
  afterAll(async () => {
    child?.kill('SIGKILL');
    await engine?.stop();
    await db?.drop();
  });

  it('loses nothing: the step is claimed again after the visibility timeout and the task completes', async () => {
    const script = fileURLToPath(new URL('../support/worker-process.ts', import.meta.url));
    child = spawn(process.execPath, ['--import', 'tsx', script], {
      env: {
        ...process.env,
        TEST_DATABASE_URL: db.url,
        TEST_OVERRIDES: JSON.stringify(overrides),
        TEST_NAMESPACE: ns,
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    await waitForLine(child, 'READY');
    const { taskUuid } = await engine.orchestrator.createTask({ namespace: ns, name: 'victim', context: {} });
    const started = await waitForLine(child, 'STARTED');
    expect(started).toContain(' 1'); // first attempt
    const exited = new Promise((r) => child!.once('exit', r));
    child.kill('SIGKILL');
    await exited;

    const survivor = createWorker({
      config: engine.config,
      namespaces: [ns],
      handlers: [
        defineHandler('blocker', (ctx) => ({ recovered_on_attempt: ctx.attempt })),
        defineHandler('after', (ctx) => ({ saw: ctx.dependencyResults.victim })),
      ],
    });
    await survivor.start();
    try {
      const task = await waitForTask(db.pool, taskUuid, 30_000);
      expect(task.state).toBe('complete');
      const victim = task.steps.find((s) => s.name === 'victim')!;
      expect(victim.attempts).toBe(2);
      expect(victim.result).toEqual({ recovered_on_attempt: 2 });
      expect(task.steps.find((s) => s.name === 'after')!.result).toEqual({
        saw: { recovered_on_attempt: 2 },
      });
      const audit = await db.pool.query<{ event: string }>(
        'SELECT event FROM tasker.workflow_step_transitions WHERE step_uuid = $1 ORDER BY sort_key',
        [victim.stepUuid],
      );
      expect(audit.rows.map((r) => r.event)).toEqual([
        'Create',
        'Enqueue',
        'Start',
        'LeaseExpired',
        'Start',
        'EnqueueForOrchestration',
        'Complete',
      ]);
    } finally {
      await survivor.stop();
    }
  });
});

describe('a worker that stalls past its visibility timeout', () => {
  let db: TestDatabase;
  let engine: Engine;
  const HOUR = 3_600_000;

  beforeAll(async () => {
    db = await createTestDatabase();
    engine = await startEngine(db, {
      templates: [template],
      handlers: [],
      overrides: { common: { queues: { visibility_timeout_seconds: 1 } } },
      startWorker: false,
    });
  });
  afterAll(async () => {
    await engine?.stop();
    await db?.drop();
  });

  it('loses the race: the step runs again elsewhere and its late outcome is refused', async () => {
    let releaseStalled: (() => void) | undefined;
    let announceStarted: (() => void) | undefined;
    const started = new Promise<void>((resolve) => (announceStarted = resolve));
    // Alive but stalled: no heartbeat and no polling, so its lease runs out after 1 s and it does not reclaim.
    const stalled = createWorker({
      config: testConfig(db.url, {
        common: { queues: { visibility_timeout_seconds: 1 } },
        worker: { heartbeat_interval_ms: HOUR, poll_interval_ms: HOUR },
      }),
      namespaces: [ns],
      handlers: [
        defineHandler('blocker', () => {
          announceStarted?.();
          return new Promise((resolve) => (releaseStalled = () => resolve({ from: 'stalled worker' })));
        }),
        defineHandler('after', () => ({ ok: true })),
      ],
    });
    await stalled.start();
    const { taskUuid } = await engine.orchestrator.createTask({ namespace: ns, name: 'victim', context: {} });
    await started;
    await new Promise((r) => setTimeout(r, 1200)); // let the lease expire

    const fresh = createWorker({
      config: engine.config,
      namespaces: [ns],
      handlers: [
        defineHandler('blocker', (ctx) => ({ from: 'fresh worker', attempt: ctx.attempt })),
        defineHandler('after', () => ({ ok: true })),
      ],
    });
    await fresh.start();
    try {
      const task = await waitForTask(db.pool, taskUuid, 30_000);
      expect(task.state).toBe('complete');
      const victim = task.steps.find((s) => s.name === 'victim')!;
      expect(victim.result).toEqual({ from: 'fresh worker', attempt: 2 });

      releaseStalled!();
      const deadline = Date.now() + 10_000;
      while (stalled.stats.completionsRejected === 0 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 20));
      }
      expect(stalled.stats.completionsRejected).toBe(1);
      // The refused outcome changed nothing.
      const after = await waitForTask(db.pool, taskUuid);
      expect(after.steps.find((s) => s.name === 'victim')!.result).toEqual({
        from: 'fresh worker',
        attempt: 2,
      });
    } finally {
      releaseStalled?.();
      await fresh.stop();
      await stalled.stop();
    }
  });
});
