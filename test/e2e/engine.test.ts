import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PermanentError, RetryableError } from '../../src/errors.js';
import { defineTemplate } from '../../src/templates/index.js';
import { defineHandler } from '../../src/worker/handler.js';
import { createWorker } from '../../src/worker/worker.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { startEngine, testConfig, waitForTask, type Engine } from '../support/engine.js';

const ns = 'engine_e2e';
const linear = defineTemplate({ namespace: ns, name: 'linear', version: '1.0.0' })
  .step('s1', { handler: 'count' })
  .step('s2', { handler: 'count', dependsOn: ['s1'] })
  .step('s3', { handler: 'count', dependsOn: ['s2'] })
  .step('s4', { handler: 'count', dependsOn: ['s3'] })
  .build();
const diamond = defineTemplate({ namespace: ns, name: 'diamond', version: '1.0.0' })
  .step('top', { handler: 'count' })
  .step('left', { handler: 'count', dependsOn: ['top'] })
  .step('right', { handler: 'count', dependsOn: ['top'] })
  .step('bottom', { handler: 'count', dependsOn: ['left', 'right'] })
  .build();
const permanent = defineTemplate({ namespace: ns, name: 'permanent', version: '1.0.0' })
  .step('ok', { handler: 'count' })
  .step('bad', { handler: 'permanent', dependsOn: ['ok'] })
  .step('never', { handler: 'count', dependsOn: ['bad'] })
  .build();
const flaky = defineTemplate({ namespace: ns, name: 'flaky', version: '1.0.0' })
  .step('always_fails', {
    handler: 'always_fails',
    retry: { maxAttempts: 3, backoffBaseMs: 10, maxBackoffMs: 50 },
  })
  .build();
const noRetryTemplate = defineTemplate({ namespace: ns, name: 'no_retry', version: '1.0.0' })
  .step('fails_once', { handler: 'always_fails', retry: { retryable: false, maxAttempts: 5 } })
  .build();
const retryAfter = defineTemplate({ namespace: ns, name: 'retry_after', version: '1.0.0' })
  .step('asks_for_delay', { handler: 'retry_after', retry: { maxAttempts: 2, maxBackoffMs: 1000 } })
  .build();
const missing = defineTemplate({ namespace: ns, name: 'missing_handler', version: '1.0.0' })
  .step('nobody', { handler: 'not.registered' })
  .build();
const slow = defineTemplate({ namespace: ns, name: 'timeout', version: '1.0.0' })
  .step('hangs', { handler: 'hangs', timeoutMs: 100, retry: { maxAttempts: 1 } })
  .build();

const executions = new Map<string, number>();
const handlers = [
  defineHandler('count', (ctx) => {
    const key = `${ctx.taskUuid}/${ctx.stepName}`;
    executions.set(key, (executions.get(key) ?? 0) + 1);
    return { step: ctx.stepName, parents: Object.keys(ctx.dependencyResults).sort() };
  }),
  defineHandler('permanent', () => {
    throw new PermanentError('card declined', { code: 'CARD_DECLINED' });
  }),
  defineHandler('always_fails', (ctx) => {
    const key = `${ctx.taskUuid}/${ctx.stepName}`;
    executions.set(key, (executions.get(key) ?? 0) + 1);
    throw new Error(`attempt ${ctx.attempt} failed`);
  }),
  defineHandler('retry_after', (ctx) => {
    if (ctx.attempt === 1) throw new RetryableError('rate limited', { retryAfterMs: 5000 });
    return { attempt: ctx.attempt };
  }),
  defineHandler(
    'hangs',
    (ctx) =>
      new Promise((_, reject) =>
        ctx.signal.addEventListener('abort', () =>
          reject(new Error('aborted', { cause: ctx.signal.reason })),
        ),
      ),
  ),
];

describe('engine end to end', () => {
  let db: TestDatabase;
  let engine: Engine;

  beforeAll(async () => {
    db = await createTestDatabase();
    engine = await startEngine(db, {
      templates: [linear, diamond, permanent, flaky, noRetryTemplate, retryAfter, missing, slow],
      handlers,
    });
  });
  afterAll(async () => {
    await engine?.stop();
    await db?.drop();
  });

  it('200 concurrent tasks on two competing workers all complete, each step executed exactly once', async () => {
    const second = createWorker({ config: engine.config, namespaces: [ns], handlers });
    await second.start();
    try {
      const created = await Promise.all(
        Array.from({ length: 200 }, (_, i) =>
          engine.orchestrator.createTask({
            namespace: ns,
            name: i % 2 ? 'linear' : 'diamond',
            context: { i },
          }),
        ),
      );
      const tasks = await Promise.all(created.map((c) => waitForTask(db.pool, c.taskUuid, 120_000)));
      expect(tasks.every((t) => t.state === 'complete')).toBe(true);
      for (const t of tasks) {
        for (const s of t.steps) {
          expect(executions.get(`${t.taskUuid}/${s.name}`), `${t.name}/${s.name}`).toBe(1);
          expect(s.attempts).toBe(1);
        }
      }
      const diamondTask = tasks.find((t) => t.name === 'diamond')!;
      expect(diamondTask.steps.find((s) => s.name === 'bottom')!.result).toEqual({
        step: 'bottom',
        parents: ['left', 'right', 'top'],
      });
      expect(second.stats.completed).toBeGreaterThan(0);
    } finally {
      await second.stop();
    }
  });

  it('a PermanentError fails the step at once and ends the task in error, with the error readable', async () => {
    const { taskUuid } = await engine.orchestrator.createTask({
      namespace: ns,
      name: 'permanent',
      context: {},
    });
    const task = await waitForTask(db.pool, taskUuid);
    expect(task.state).toBe('error');
    const bad = task.steps.find((s) => s.name === 'bad')!;
    expect(bad.state).toBe('error');
    expect(bad.attempts).toBe(1);
    expect(bad.error).toMatchObject({
      name: 'PermanentError',
      message: 'card declined',
      code: 'CARD_DECLINED',
      retryable: false,
    });
    expect(task.error).toMatchObject({ stepName: 'bad', error: { message: 'card declined' } });
    expect(task.steps.find((s) => s.name === 'never')!.state).toBe('pending');
  });

  it('a step that keeps failing runs exactly max_attempts times, then the task is in error', async () => {
    const { taskUuid } = await engine.orchestrator.createTask({ namespace: ns, name: 'flaky', context: {} });
    const task = await waitForTask(db.pool, taskUuid);
    expect(task.state).toBe('error');
    const step = task.steps[0]!;
    expect(step.attempts).toBe(3);
    expect(executions.get(`${taskUuid}/always_fails`)).toBe(3);
    expect(step.error?.message).toBe('attempt 3 failed');
    const audit = await db.pool.query<{ to_state: string }>(
      `SELECT t.to_state FROM tasker.workflow_step_transitions t WHERE t.step_uuid = $1 ORDER BY sort_key`,
      [step.stepUuid],
    );
    expect(audit.rows.filter((r) => r.to_state === 'waiting_for_retry')).toHaveLength(2);
    expect(audit.rows.at(-1)!.to_state).toBe('error');
  });

  it('template retryable=false makes any failure permanent', async () => {
    const { taskUuid } = await engine.orchestrator.createTask({
      namespace: ns,
      name: 'no_retry',
      context: {},
    });
    const task = await waitForTask(db.pool, taskUuid);
    expect(task.state).toBe('error');
    expect(task.steps[0]!.attempts).toBe(1);
    expect(executions.get(`${taskUuid}/fails_once`)).toBe(1);
  });

  it('RetryableError retryAfterMs sets the delay, capped by the template max', async () => {
    const { taskUuid } = await engine.orchestrator.createTask({
      namespace: ns,
      name: 'retry_after',
      context: {},
    });
    const task = await waitForTask(db.pool, taskUuid);
    expect(task.state).toBe('complete');
    const audit = await db.pool.query<{ results: { retry_delay_ms: number } }>(
      `SELECT s.results FROM tasker.workflow_steps s WHERE s.task_uuid = $1`,
      [taskUuid],
    );
    expect(audit.rows[0]!.results).not.toHaveProperty('retry_delay_ms'); // final result is the success
    const delays = await db.pool.query<{ from_state: string; delay: number }>(
      `SELECT t.from_state,
              (extract(epoch FROM (SELECT min(n.created_at) FROM tasker.workflow_step_transitions n
                                  WHERE n.step_uuid = t.step_uuid AND n.to_state = 'pending' AND n.sort_key > t.sort_key)
                                 - t.created_at) * 1000)::float8 AS delay
       FROM tasker.workflow_step_transitions t JOIN tasker.workflow_steps s ON s.step_uuid = t.step_uuid
       WHERE s.task_uuid = $1 AND t.to_state = 'waiting_for_retry'`,
      [taskUuid],
    );
    // Requested 5000 ms, template caps at 1000 ms: the retry fired no earlier than the capped delay.
    expect(delays.rows).toHaveLength(1);
    expect(delays.rows[0]!.delay).toBeGreaterThanOrEqual(1000);
    expect(task.steps[0]!.attempts).toBe(2);
  });

  it('a step whose handler is not registered fails permanently with HANDLER_NOT_FOUND', async () => {
    const { taskUuid } = await engine.orchestrator.createTask({
      namespace: ns,
      name: 'missing_handler',
      context: {},
    });
    const task = await waitForTask(db.pool, taskUuid);
    expect(task.state).toBe('error');
    expect(task.steps[0]!.error).toMatchObject({ code: 'HANDLER_NOT_FOUND', retryable: false });
  });

  it('a handler past its timeout gets its signal aborted and the attempt fails with HANDLER_TIMEOUT', async () => {
    const { taskUuid } = await engine.orchestrator.createTask({
      namespace: ns,
      name: 'timeout',
      context: {},
    });
    const task = await waitForTask(db.pool, taskUuid);
    expect(task.state).toBe('error');
    expect(task.steps[0]!.error).toMatchObject({ code: 'HANDLER_TIMEOUT', retryable: true });
  });

  it('task context is stored exactly as given, keys starting with "on" included', async () => {
    const context = {
      on_hold: true,
      onboarding_id: 7,
      script: '<script>x</script>',
      nested: { function: 'f', list: [1, { eval: 2 }] },
    };
    const { taskUuid } = await engine.orchestrator.createTask({ namespace: ns, name: 'linear', context });
    const task = await waitForTask(db.pool, taskUuid);
    expect(task.context).toEqual(context);
  });

  it('bad task requests get clear typed errors and create nothing', async () => {
    const before = await db.pool.query<{ n: string }>('SELECT count(*) AS n FROM tasker.tasks');
    await expect(
      engine.orchestrator.createTask({
        namespace: ns,
        name: 'linear',
        context: [1, 2] as unknown as Record<string, unknown>,
      }),
    ).rejects.toMatchObject({ code: 'TASK_INVALID' });
    await expect(
      engine.orchestrator.createTask({
        namespace: ns,
        name: 'linear',
        context: null as unknown as Record<string, unknown>,
      }),
    ).rejects.toMatchObject({ code: 'TASK_INVALID' });
    await expect(
      engine.orchestrator.createTask({ namespace: ns, name: 'nope', context: {} }),
    ).rejects.toMatchObject({
      code: 'TEMPLATE_NOT_FOUND',
    });
    await expect(
      engine.orchestrator.createTask({ namespace: ns, name: 'linear', version: '9.9.9', context: {} }),
    ).rejects.toMatchObject({ code: 'TEMPLATE_NOT_FOUND' });
    const after = await db.pool.query<{ n: string }>('SELECT count(*) AS n FROM tasker.tasks');
    expect(after.rows[0]!.n).toBe(before.rows[0]!.n);
  });

  it('an orchestrator and a worker in one process share one LISTEN connection', async () => {
    const res = await db.pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM pg_stat_activity
       WHERE datname = current_database() AND application_name = 'tasker-listener'`,
    );
    expect(res.rows[0]!.n).toBe(1);
  });

  it('at start-up a worker warns about every template step of its namespaces that has no handler', async () => {
    const lines: string[] = [];
    const logger = pino({ level: 'warn' }, { write: (line: string) => void lines.push(line) });
    const worker = createWorker({
      config: engine.config,
      namespaces: [ns],
      handlers: handlers.slice(0, 1),
      logger,
    });
    await worker.start();
    await worker.stop();
    const warned = lines
      .map((l) => JSON.parse(l) as { msg: string; step?: string; handler?: string })
      .filter((l) => l.msg.includes('no registered handler'));
    const missingSteps = new Set(warned.map((w) => `${w.step}:${w.handler}`));
    expect(missingSteps).toContain('bad:permanent');
    expect(missingSteps).toContain('nobody:not.registered');
    expect(missingSteps).toContain('hangs:hangs');
    expect(missingSteps).not.toContain('s1:count');
  });

  it('re-registering a template version is idempotent, but different content under it is refused', async () => {
    const again = await engine.orchestrator.registerTemplate(linear);
    expect(again.created).toBe(false);
    const changed = defineTemplate({ namespace: ns, name: 'linear', version: '1.0.0' })
      .step('only', { handler: 'count' })
      .build();
    await expect(engine.orchestrator.registerTemplate(changed)).rejects.toMatchObject({
      code: 'TEMPLATE_CONFLICT',
    });
  });
});

describe('polling only (notifications disabled)', () => {
  let db: TestDatabase;
  let engine: Engine;
  beforeAll(async () => {
    db = await createTestDatabase();
    engine = await startEngine(db, {
      templates: [diamond],
      handlers,
      overrides: { common: { queues: { notifications_enabled: false } } },
    });
  });
  afterAll(async () => {
    await engine?.stop();
    await db?.drop();
  });

  it('tasks still complete through the pollers', async () => {
    const created = await Promise.all(
      Array.from({ length: 5 }, () =>
        engine.orchestrator.createTask({ namespace: ns, name: 'diamond', context: {} }),
      ),
    );
    const tasks = await Promise.all(created.map((c) => waitForTask(db.pool, c.taskUuid)));
    expect(tasks.map((t) => t.state)).toEqual(Array(5).fill('complete'));
    const listeners = await db.pool.query(
      `SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND application_name LIKE '%listener%'`,
    );
    expect(listeners.rowCount).toBe(0);
  });
});

describe('configuration reaches the engine', () => {
  it('testConfig points the engine at the test database', async () => {
    const db = await createTestDatabase();
    try {
      expect(testConfig(db.url).common.database.url).toBe(db.url);
    } finally {
      await db.drop();
    }
  });
});
