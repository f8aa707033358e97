import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TaskerAbortError, TaskerTimeoutError } from '../../src/client/errors.js';
import {
  ErrorCode,
  PermanentError,
  TaskCancelledError,
  TaskFailedError,
  TaskerError,
} from '../../src/errors.js';
import { cancelTask } from '../../src/orchestration/operations.js';
import { createTasker, type Tasker } from '../../src/results/tasker.js';
import type { TaskFinishedEvent } from '../../src/results/registry.js';
import { defineTemplate } from '../../src/templates/index.js';
import { StepType } from '../../src/templates/types.js';
import { decide } from '../../src/worker/dynamic.js';
import { defineHandler } from '../../src/worker/handler.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { startEngine, testConfig, waitForTask, type Engine } from '../support/engine.js';

const ns = 'task_results';
const pair = defineTemplate({ namespace: ns, name: 'pair', version: '1.0.0' })
  .step('first', { handler: 'res.echo' })
  .step('second', { handler: 'res.echo', dependsOn: ['first'] })
  .build();
const routed = defineTemplate({ namespace: ns, name: 'routed', version: '1.0.0' })
  .step('route', { handler: 'res.route', type: StepType.Decision })
  .step('left', { handler: 'res.echo', dependsOn: ['route'] })
  .step('right', { handler: 'res.echo', dependsOn: ['route'] })
  .build();
const failing = defineTemplate({ namespace: ns, name: 'failing', version: '1.0.0' })
  .step('ok', { handler: 'res.echo' })
  .step('boom', { handler: 'res.boom', dependsOn: ['ok'] })
  .build();
const gated = defineTemplate({ namespace: ns, name: 'gated', version: '1.0.0' })
  .step('wait', { handler: 'res.gate' })
  .build();
const strict = defineTemplate({ namespace: ns, name: 'strict', version: '1.0.0', identityStrategy: 'strict' })
  .step('only', { handler: 'res.echo' })
  .build();

/** Steps of `gated` tasks wait here until the test opens their gate (context.gate) or the step is aborted. */
const gates = new Map<string, () => void>();
function openGate(name: string): void {
  gates.get(name)?.();
}

const handlers = [
  defineHandler('res.echo', (ctx) => ({ step: ctx.stepName, n: ctx.context.n ?? null })),
  defineHandler('res.route', () => decide(['left'])),
  defineHandler('res.boom', () => {
    throw new PermanentError('card declined', { code: 'DECLINED' });
  }),
  defineHandler(
    'res.gate',
    (ctx) =>
      new Promise((resolve, reject) => {
        gates.set(String(ctx.context.gate), () => resolve({ opened: ctx.context.gate }));
        ctx.signal.addEventListener('abort', () => reject(new Error('aborted')), { once: true });
      }),
  ),
];

async function until(predicate: () => boolean | Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('awaitable task results', () => {
  let db: TestDatabase;
  let engine: Engine;
  let tasker: Tasker;

  beforeAll(async () => {
    db = await createTestDatabase();
    engine = await startEngine(db, { templates: [pair, routed, failing, gated, strict], handlers });
    tasker = createTasker({ config: testConfig(db.url) });
  });
  afterAll(async () => {
    await tasker?.close();
    await engine?.stop();
    await db?.drop();
  });

  it('result() resolves to every completed step result by name', async () => {
    const task = await engine.orchestrator.createTask({ namespace: ns, name: 'pair', context: { n: 1 } });
    await expect(task.result({ timeoutMs: 30_000 })).resolves.toEqual({
      first: { step: 'first', n: 1 },
      second: { step: 'second', n: 1 },
    });
    // The handle is still the plain created task when serialized.
    expect(Object.keys(JSON.parse(JSON.stringify(task)) as object)).not.toContain('result');
  });

  it('leaves skipped steps out of the results', async () => {
    const task = await tasker.createTask({ namespace: ns, name: 'routed', context: { n: 2 } });
    const results = await task.result({ timeoutMs: 30_000 });
    expect(results.left).toEqual({ step: 'left', n: 2 });
    expect(results).toHaveProperty('route');
    expect(results).not.toHaveProperty('right');
    expect((await tasker.getTask(task.taskUuid))!.steps.find((s) => s.name === 'right')!.state).toBe(
      'skipped',
    );
  });

  it('rejects with TaskFailedError naming the failed steps and their errors', async () => {
    const task = await tasker.createTask({ namespace: ns, name: 'failing', context: {} });
    const err = await task.result({ timeoutMs: 30_000 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TaskFailedError);
    const failed = err as TaskFailedError;
    expect(failed.code).toBe(ErrorCode.TaskFailed);
    expect(failed.taskUuid).toBe(task.taskUuid);
    expect(failed.failedSteps).toHaveLength(1);
    expect(failed.failedSteps[0]!.name).toBe('boom');
    expect(failed.failedSteps[0]!.attempts).toBe(1);
    expect(failed.failedSteps[0]!.error).toMatchObject({ message: 'card declined', code: 'DECLINED' });
    expect(failed.message).toMatch(/boom.*card declined/);
  });

  it('rejects with TaskCancelledError when the task is cancelled', async () => {
    const task = await tasker.createTask({ namespace: ns, name: 'gated', context: { gate: 'cancel' } });
    const pending = task.result({ timeoutMs: 30_000 }).catch((e: unknown) => e);
    await until(() => gates.has('cancel'));
    await cancelTask(db.pool, task.taskUuid, { reason: 'test' });
    const err = await pending;
    expect(err).toBeInstanceOf(TaskCancelledError);
    expect((err as TaskCancelledError).code).toBe(ErrorCode.TaskCancelled);
  });

  it('rejects with typed errors on abort and timeout, and a later wait still resolves', async () => {
    const task = await tasker.createTask({ namespace: ns, name: 'gated', context: { gate: 'abort' } });
    const controller = new AbortController();
    const aborted = task.result({ signal: controller.signal }).catch((e: unknown) => e);
    controller.abort(new Error('user left'));
    const abortErr = await aborted;
    expect(abortErr).toBeInstanceOf(TaskerAbortError);
    expect((abortErr as TaskerError).code).toBe(ErrorCode.Aborted);

    const timeoutErr = await task.result({ timeoutMs: 50 }).catch((e: unknown) => e);
    expect(timeoutErr).toBeInstanceOf(TaskerTimeoutError);
    expect((timeoutErr as TaskerError).code).toBe(ErrorCode.Timeout);

    const already = new AbortController();
    already.abort();
    await expect(task.result({ signal: already.signal })).rejects.toBeInstanceOf(TaskerAbortError);

    await until(() => gates.has('abort'));
    const later = task.result({ timeoutMs: 30_000 });
    openGate('abort');
    await expect(later).resolves.toEqual({ wait: { opened: 'abort' } });
  });

  it('resolves for a task that finished before result() was called', async () => {
    const created = await tasker.createTask({ namespace: ns, name: 'pair', context: { n: 3 } });
    await waitForTask(db.pool, created.taskUuid);
    const other = createTasker({ config: testConfig(db.url) });
    try {
      await expect(other.taskHandle(created.taskUuid).result({ timeoutMs: 5_000 })).resolves.toEqual({
        first: { step: 'first', n: 3 },
        second: { step: 'second', n: 3 },
      });
    } finally {
      await other.close();
    }
  });

  it('refuses a malformed uuid and rejects TASK_NOT_FOUND for an unknown task', async () => {
    expect(() => tasker.taskHandle('not-a-uuid')).toThrow(TaskerError);
    const err = await tasker
      .taskHandle('00000000-0000-7000-8000-000000000000')
      .result({ timeoutMs: 5_000 })
      .catch((e: unknown) => e);
    expect((err as TaskerError).code).toBe(ErrorCode.TaskNotFound);
  });

  it('resolves when the worker finalizes the task itself (fast path, no result processing)', async () => {
    const fastNs = 'task_results_fast';
    const one = defineTemplate({ namespace: fastNs, name: 'one', version: '1.0.0' })
      .step('only', { handler: 'res.echo' })
      .build();
    const fast = await startEngine(db, {
      templates: [one],
      handlers,
      overrides: { worker: { resolve_in_completion: true } },
    });
    try {
      const finalizedBefore =
        engine.orchestrator.stats.tasksFinalized + fast.orchestrator.stats.tasksFinalized;
      const task = await tasker.createTask({ namespace: fastNs, name: 'one', context: { n: 4 } });
      await expect(task.result({ timeoutMs: 30_000 })).resolves.toEqual({ only: { step: 'only', n: 4 } });
      // No orchestrator finalized it: the worker's completion did.
      expect(engine.orchestrator.stats.tasksFinalized + fast.orchestrator.stats.tasksFinalized).toBe(
        finalizedBefore,
      );
    } finally {
      await fast.stop();
    }
  });

  it('onTaskFinished sees every finished task with its state', async () => {
    const seen: TaskFinishedEvent[] = [];
    const stop = await tasker.onTaskFinished((e) => seen.push(e));
    try {
      const ok = await Promise.all(
        Array.from({ length: 5 }, (_, n) =>
          tasker.createTask({ namespace: ns, name: 'pair', context: { n } }),
        ),
      );
      const bad = await tasker.createTask({ namespace: ns, name: 'failing', context: {} });
      await Promise.all(ok.map((t) => t.result({ timeoutMs: 30_000 })));
      await bad.result({ timeoutMs: 30_000 }).catch(() => {});
      await until(() => seen.filter((e) => [...ok, bad].some((t) => t.taskUuid === e.taskUuid)).length === 6);
      for (const t of ok) expect(seen).toContainEqual({ taskUuid: t.taskUuid, state: 'complete' });
      expect(seen).toContainEqual({ taskUuid: bad.taskUuid, state: 'error' });
    } finally {
      stop();
    }
  });

  it('a waiter re-checks after the listener reconnects, so a finish missed meanwhile is not lost', async () => {
    // Another URL of the same database: a listener of its own (one per URL), which reconnects only after 1.5 s.
    const slow = createTasker({
      config: testConfig(`${db.url}?connect_timeout=10`, {
        common: { queues: { listener_reconnect_min_ms: 1500 } },
      }),
    });
    try {
      const task = await slow.createTask({ namespace: ns, name: 'gated', context: { gate: 'reconnect' } });
      const pending = slow.taskHandle(task.taskUuid).result({ timeoutMs: 20_000 });
      await until(() => gates.has('reconnect'));
      // Drop the process's listener connection; the cancel below commits while nobody listens.
      await db.pool.query(
        `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
         WHERE datname = current_database() AND application_name = 'tasker-listener'`,
      );
      await cancelTask(db.pool, task.taskUuid, { reason: 'while disconnected' });
      await expect(pending).rejects.toBeInstanceOf(TaskCancelledError);
    } finally {
      await slow.close();
    }
  });

  it('close() rejects pending waits with SHUTTING_DOWN', async () => {
    const temp = createTasker({ config: testConfig(db.url) });
    const task = await temp.createTask({ namespace: ns, name: 'gated', context: { gate: 'close' } });
    const pending = task.result().catch((e: unknown) => e);
    await until(() => gates.has('close'));
    await temp.close();
    expect(((await pending) as TaskerError).code).toBe(ErrorCode.ShuttingDown);
    openGate('close');
  });

  it('works in a process that runs neither an orchestrator nor a worker', async () => {
    const script = fileURLToPath(new URL('../support/await-client.ts', import.meta.url));
    const child = spawn(process.execPath, ['--import', 'tsx', script], {
      env: {
        ...process.env,
        TEST_DATABASE_URL: db.url,
        TEST_REQUEST: JSON.stringify({ namespace: ns, name: 'pair', context: { n: 7 } }),
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect(code).toBe(0);
    const line = JSON.parse(out.trim().split('\n').at(-1)!) as { results: unknown };
    expect(line.results).toEqual({ first: { step: 'first', n: 7 }, second: { step: 'second', n: 7 } });
  });
});
