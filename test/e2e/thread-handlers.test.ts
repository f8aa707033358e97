import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getTask } from '../../src/orchestration/task-queries.js';
import { defineTemplate } from '../../src/templates/index.js';
import { defineHandler, defineThreadHandler, type HandlerDefinition } from '../../src/worker/handler.js';
import { createWorker } from '../../src/worker/worker.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { startEngine, waitForTask, type Engine } from '../support/engine.js';
import { openGate, until, type Gate } from '../fixtures/thread-gate.js';

const fixture = new URL('../fixtures/thread-handlers.ts', import.meta.url);
const threadHandlers: HandlerDefinition[] = [
  defineThreadHandler('thread.crunch', fixture, 'crunch'),
  defineThreadHandler('thread.report', fixture, 'report'),
  defineThreadHandler('thread.fails', fixture, 'fails'),
  defineThreadHandler('thread.spin_forever', fixture, 'spinForever'),
  defineThreadHandler('thread.missing_export', fixture, 'noSuchExport'),
];

/** Attempts of each step of a task, by step name. */
async function attempts(db: TestDatabase, taskUuid: string): Promise<Record<string, number>> {
  const task = await getTask(db.pool, taskUuid);
  return Object.fromEntries((task?.steps ?? []).map((s) => [s.name, s.attempts]));
}

describe('thread handlers', () => {
  const ns = 'thread_e2e';
  const gates = new Map<string, Gate>();
  const mixed = defineTemplate({ namespace: ns, name: 'mixed', version: '1.0.0' })
    .step('crunch', { handler: 'thread.crunch', inputs: { limit: 100 } })
    .step('light', { handler: 'light' })
    .build();
  const quick = defineTemplate({ namespace: ns, name: 'quick', version: '1.0.0' })
    .step('only', { handler: 'quick' })
    .build();
  const compute = defineTemplate({ namespace: ns, name: 'compute', version: '1.0.0' })
    .step('primes', { handler: 'thread.crunch', inputs: { limit: 10_000 } })
    .step('report', { handler: 'thread.report', dependsOn: ['primes'], inputs: { unit: 'primes' } })
    .build();
  const failing = defineTemplate({ namespace: ns, name: 'failing', version: '1.0.0' })
    .step('f', {
      handler: 'thread.fails',
      retry: { maxAttempts: 3, backoffBaseMs: 10, maxBackoffMs: 50 },
    })
    .build();
  const missing = defineTemplate({ namespace: ns, name: 'missing', version: '1.0.0' })
    .step('m', { handler: 'thread.missing_export' })
    .build();

  let db: TestDatabase;
  let engine: Engine;

  beforeAll(async () => {
    db = await createTestDatabase();
    engine = await startEngine(db, {
      templates: [mixed, quick, compute, failing, missing],
      handlers: [
        ...threadHandlers,
        // On the event loop: finishes only once the thread handler of its task is spinning.
        defineHandler('light', async (ctx) => {
          const gate = gates.get(ctx.context.channel as string);
          if (gate) await until(() => gate.spinning() >= 1, 'the thread handler to spin');
          return { light: true };
        }),
        defineHandler('quick', () => ({ quick: true })),
      ],
    });
  });
  afterAll(async () => {
    for (const g of gates.values()) g.close();
    await engine?.stop();
    await db?.drop();
  });

  it('a CPU-bound thread handler does not stall claims and completions on the event loop', async () => {
    const gate = openGate('loop');
    gates.set(gate.channel, gate);
    expect(engine.worker.threadPoolStats).toMatchObject({ started: false, threads: 0 });
    const { taskUuid } = await engine.orchestrator.createTask({
      namespace: ns,
      name: 'mixed',
      context: { channel: gate.channel },
    });
    await until(() => gate.spinning() === 1, 'the thread handler to start spinning');

    // The thread spins without yielding until released; meanwhile the event loop claims, runs and records the
    // in-process step of the same task and a whole new task.
    const lightDone = (): boolean =>
      engine.finished.some((e) => e.taskUuid === taskUuid && e.stepName === 'light');
    await until(lightDone, 'the in-process step to be recorded');
    const other = await engine.orchestrator.createTask({ namespace: ns, name: 'quick', context: {} });
    expect((await waitForTask(db.pool, other.taskUuid)).state).toBe('complete');
    const during = await getTask(db.pool, taskUuid);
    expect(during?.steps.find((s) => s.name === 'crunch')?.state).toBe('in_progress');
    expect(engine.finished.some((e) => e.taskUuid === taskUuid && e.stepName === 'crunch')).toBe(false);
    expect(engine.worker.threadPoolStats).toMatchObject({ started: true, pending: 1 });

    gate.release();
    const task = await waitForTask(db.pool, taskUuid);
    expect(task.state).toBe('complete');
    // `released` says the spin ended because of the release, which came after everything above.
    expect(task.steps.find((s) => s.name === 'crunch')?.result).toEqual({
      primes: 25,
      released: true,
      spun: true,
    });
    const order = engine.finished.filter((e) => e.taskUuid === taskUuid).map((e) => e.stepName);
    expect(order).toEqual(['light', 'crunch']);
  });

  it('records a thread handler result, with context, inputs and dependency results crossing the thread', async () => {
    const { taskUuid } = await engine.orchestrator.createTask({
      namespace: ns,
      name: 'compute',
      context: { tag: 'nightly' },
    });
    const task = await waitForTask(db.pool, taskUuid);
    expect(task.state).toBe('complete');
    const byName = Object.fromEntries(task.steps.map((s) => [s.name, s.result]));
    expect(byName.primes).toEqual({ primes: 1229 });
    expect(byName.report).toEqual({
      fromParent: { primes: 1229 },
      tag: 'nightly',
      inputs: { unit: 'primes' },
      attempt: 1,
      maxAttempts: 3,
      step: 'report',
      namespace: ns,
      template: 'compute@1.0.0',
      hasIds: true,
    });
    const stats = engine.worker.threadPoolStats!;
    expect(stats.submitted).toBeGreaterThanOrEqual(3);
    expect(stats.completed).toBe(stats.submitted);
    expect(stats.threads).toBeGreaterThanOrEqual(1);
    expect(stats.threads).toBeLessThanOrEqual(engine.config.worker.thread_pool.max_threads);
    expect(stats.utilization).toBeGreaterThanOrEqual(0);
  });

  it('classifies thread handler errors like in-process ones: permanent, retryable, plain, unserializable', async () => {
    const run = async (mode: string) => {
      const { taskUuid } = await engine.orchestrator.createTask({
        namespace: ns,
        name: 'failing',
        context: { mode },
      });
      const task = await waitForTask(db.pool, taskUuid);
      const firstAttempt = engine.finished.find((e) => e.taskUuid === taskUuid && e.attempt === 1);
      return { task, step: task.steps[0]!, firstAttempt };
    };

    const permanent = await run('permanent');
    expect(permanent.task.state).toBe('error');
    expect(permanent.step.attempts).toBe(1);
    expect(permanent.step.error).toMatchObject({
      name: 'PermanentError',
      code: 'BAD_INPUT',
      message: 'bad input',
      retryable: false,
    });

    const convention = await run('convention');
    expect(convention.task.state).toBe('error');
    expect(convention.step.attempts).toBe(1);
    expect(convention.step.error).toMatchObject({
      name: 'ValidationFailure',
      code: 'RULE_7',
      retryable: false,
    });

    const retryable = await run('retryable');
    expect(retryable.task.state).toBe('complete');
    expect(retryable.step.attempts).toBe(2);
    expect(retryable.step.result).toEqual({ attempt: 2 });
    expect(retryable.firstAttempt?.error).toEqual({
      name: 'RetryableError',
      message: 'rate limited',
      code: 'RATE_LIMITED',
      retryable: true,
    });

    const plain = await run('plain');
    expect(plain.task.state).toBe('complete');
    expect(plain.step.attempts).toBe(2);
    expect(plain.firstAttempt?.error).toMatchObject({ name: 'TypeError', message: 'flaky', retryable: true });

    const unserializable = await run('not_serializable');
    expect(unserializable.task.state).toBe('error');
    expect(unserializable.step.error).toMatchObject({ code: 'RESULT_NOT_SERIALIZABLE', retryable: false });

    const absent = await engine.orchestrator.createTask({ namespace: ns, name: 'missing', context: {} });
    const absentTask = await waitForTask(db.pool, absent.taskUuid);
    expect(absentTask.state).toBe('error');
    expect(absentTask.steps[0]!.error).toMatchObject({ code: 'HANDLER_NOT_FOUND', retryable: false });
    expect(absentTask.steps[0]!.error?.message).toMatch(/no exported function 'noSuchExport'/);
  });
});

describe('thread handler timeout', () => {
  const ns = 'thread_timeout_e2e';
  const spin = defineTemplate({ namespace: ns, name: 'spin', version: '1.0.0' })
    .step('forever', { handler: 'thread.spin_forever', timeoutMs: 300, retry: { maxAttempts: 1 } })
    .build();
  const compute = defineTemplate({ namespace: ns, name: 'compute', version: '1.0.0' })
    .step('primes', { handler: 'thread.crunch', inputs: { limit: 1000 } })
    .build();
  let db: TestDatabase;
  let engine: Engine;

  beforeAll(async () => {
    db = await createTestDatabase();
    engine = await startEngine(db, {
      templates: [spin, compute],
      handlers: threadHandlers,
      // One thread: if the timeout did not terminate it, nothing else could ever run in the pool.
      overrides: { worker: { thread_pool: { min_threads: 1, max_threads: 1, max_queue: 4 } } },
    });
  });
  afterAll(async () => {
    await engine?.stop();
    await db?.drop();
  });

  it('aborts the thread task and records a retryable HANDLER_TIMEOUT', async () => {
    // Warm the only thread first, so the spin below starts within its 300 ms rather than while loading.
    const warm = await engine.orchestrator.createTask({ namespace: ns, name: 'compute', context: {} });
    expect((await waitForTask(db.pool, warm.taskUuid)).state).toBe('complete');

    const { taskUuid } = await engine.orchestrator.createTask({ namespace: ns, name: 'spin', context: {} });
    const task = await waitForTask(db.pool, taskUuid);
    expect(task.state).toBe('error');
    expect(task.steps[0]!.error).toMatchObject({ code: 'HANDLER_TIMEOUT', retryable: true });

    // The pool's only thread was spinning for a minute; this runs only because the timeout terminated it.
    const next = await engine.orchestrator.createTask({ namespace: ns, name: 'compute', context: {} });
    const done = await waitForTask(db.pool, next.taskUuid);
    expect(done.state).toBe('complete');
    expect(done.steps[0]!.result).toEqual({ primes: 168 });
    expect(engine.worker.threadPoolStats).toMatchObject({ pending: 0, maxThreads: 1 });
  });
});

describe('thread pool back-pressure', () => {
  const ns = 'thread_backpressure_e2e';
  const gated = defineTemplate({ namespace: ns, name: 'gated', version: '1.0.0' })
    .step('crunch', { handler: 'thread.crunch', retry: { maxAttempts: 1 } })
    .build();
  let db: TestDatabase;
  let engine: Engine;
  let gate: Gate;

  beforeAll(async () => {
    db = await createTestDatabase();
    gate = openGate('backpressure');
    engine = await startEngine(db, {
      templates: [gated],
      handlers: threadHandlers,
      // One running + one waiting; the worker runs up to 5 handlers, so the other steps are refused.
      overrides: { worker: { thread_pool: { min_threads: 1, max_threads: 1, max_queue: 1 } } },
    });
  });
  afterAll(async () => {
    gate?.close();
    await engine?.stop();
    await db?.drop();
  });

  it('a full pool refuses with HANDLER_BACKPRESSURE; refused steps keep their attempt and all complete', async () => {
    const tasks = [];
    for (let i = 0; i < 5; i++) {
      tasks.push(
        await engine.orchestrator.createTask({
          namespace: ns,
          name: 'gated',
          context: { channel: gate.channel },
        }),
      );
    }
    await until(() => gate.spinning() === 1, 'the first step to occupy the only thread');
    await until(
      () => (engine.worker.threadPoolStats?.backpressureRejections ?? 0) >= 3,
      'the pool to refuse the steps beyond its queue',
    );
    const stats = engine.worker.threadPoolStats!;
    expect(stats.pending).toBeLessThanOrEqual(2); // never more than max_threads + max_queue
    expect(engine.worker.stats.deferredOnBackpressure).toBeGreaterThanOrEqual(3);
    expect(engine.finished).toHaveLength(0); // refusals are not outcomes: nothing was recorded

    gate.release();
    for (const t of tasks) {
      const task = await waitForTask(db.pool, t.taskUuid);
      expect(task.state).toBe('complete');
      // With max_attempts 1, a refusal that used an attempt would have failed the step.
      expect(await attempts(db, t.taskUuid)).toEqual({ crunch: 1 });
    }
    expect(engine.finished.every((e) => e.success && e.attempt === 1)).toBe(true);
    expect(engine.worker.stats.failed).toBe(0);
  });
});

describe('thread pool shutdown', () => {
  const ns = 'thread_shutdown_e2e';
  const gated = defineTemplate({ namespace: ns, name: 'gated', version: '1.0.0' })
    .step('crunch', { handler: 'thread.crunch', inputs: { limit: 10 } })
    .build();
  let db: TestDatabase;
  let engine: Engine;
  let gate: Gate;

  beforeAll(async () => {
    db = await createTestDatabase();
    gate = openGate('shutdown');
    engine = await startEngine(db, { templates: [gated], handlers: threadHandlers, startWorker: false });
  });
  afterAll(async () => {
    gate?.close();
    await engine?.stop();
    await db?.drop();
  });

  it('stop() terminates a busy thread after the grace period, closes the pool, and loses no step', async () => {
    const config = { ...engine.config, worker: { ...engine.config.worker, shutdown_timeout_ms: 300 } };
    const stopping = createWorker({ config, namespaces: [ns], handlers: threadHandlers });
    await stopping.start();
    const { taskUuid } = await engine.orchestrator.createTask({
      namespace: ns,
      name: 'gated',
      context: { channel: gate.channel },
    });
    await until(() => gate.spinning() === 1, 'the thread handler to spin');
    expect(stopping.threadPoolStats).toMatchObject({ started: true, closed: false, pending: 1 });

    await stopping.stop(); // returns although the thread never yields: it is terminated
    expect(stopping.threadPoolStats).toMatchObject({ closed: true, threads: 0, pending: 0 });

    gate.release();
    const next = createWorker({ config: engine.config, namespaces: [ns], handlers: threadHandlers });
    await next.start();
    try {
      const task = await waitForTask(db.pool, taskUuid);
      expect(task.state).toBe('complete');
      // The attempt aborted by the shutdown was handed back without being counted; it ran again here.
      expect(task.steps[0]!.result).toMatchObject({ primes: 4, released: true });
      expect(task.steps[0]!.attempts).toBe(1);
    } finally {
      await next.stop();
    }
    expect(next.threadPoolStats?.closed).toBe(true);
  });
});
