/**
 * `GET /v1/tasks/{task_uuid}/steps/{step_uuid}` in detail: every attempt (derived from the audit trail) with the
 * result or error that is stored for it, the step's inputs, its ancestors' results and its last checkpoint —
 * with a real worker making the attempts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stepDetailBody, taskBody, type ApiServer, type StepDetailBody } from '../../src/api/index.js';
import { RetryableError } from '../../src/errors.js';
import { defineTemplate } from '../../src/templates/index.js';
import { defineHandler } from '../../src/worker/handler.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { startEngine, waitForTask, type Engine } from '../support/engine.js';
import { Executions } from '../support/wait.js';
import { bodyOf, startApi } from './helpers.js';

const ns = 'api_step_detail';
const retry = { maxAttempts: 3, backoffBaseMs: 1, maxBackoffMs: 5, jitter: 0 };
const flaky = defineTemplate({ namespace: ns, name: 'flaky', version: '1.0.0' })
  .step('source', { handler: 'source', inputs: { region: 'eu' } })
  .step('flaky', { handler: 'flaky', dependsOn: ['source'], inputs: { limit: 3 }, retry })
  .build();

const executions = new Executions();
const handlers = [
  defineHandler('source', () => ({ rows: 42 })),
  defineHandler('flaky', async (ctx) => {
    const n = executions.record(ctx.taskUuid, ctx.stepName);
    await ctx.checkpoint({ cursor: n * 10 });
    // Fails twice per run (attempts 1 and 2), then succeeds.
    if (ctx.attempt < 3) throw new RetryableError(`not yet (attempt ${ctx.attempt})`);
    return { execution: n };
  }),
];

describe('step detail', () => {
  let db: TestDatabase;
  let engine: Engine;
  let api: ApiServer;

  beforeAll(async () => {
    db = await createTestDatabase();
    engine = await startEngine(db, { templates: [flaky], handlers });
    api = await startApi(db, {
      orchestration: {
        api: {
          auth: {
            enabled: true,
            api_keys: [
              { name: 'admin', key: 'admin-key', permissions: ['*'] },
              { name: 'reader', key: 'reader-key', permissions: ['tasks:read', 'steps:read'] },
            ],
          },
        },
      },
    });
  });
  afterAll(async () => {
    await api?.close();
    await engine?.stop();
    await db?.drop();
  });

  async function detail(task: string, step: string, key = 'admin-key'): Promise<StepDetailBody> {
    const res = await api.app.inject({
      url: `/v1/tasks/${task}/steps/${step}`,
      headers: { 'x-api-key': key },
    });
    return bodyOf(res, stepDetailBody);
  }

  it('lists every attempt with its outcome; the stored result is on the latest; inputs and checkpoint', async () => {
    const created = await api.app.inject({
      method: 'POST',
      url: '/v1/tasks',
      headers: { 'x-api-key': 'admin-key' },
      payload: { namespace: ns, name: 'flaky', context: {} },
    });
    const task = bodyOf(created, taskBody);
    const done = await waitForTask(db.pool, task.task_uuid);
    expect(done.state).toBe('complete');
    const step = done.steps.find((s) => s.name === 'flaky')!.stepUuid;

    const d = await detail(task.task_uuid, step);
    expect(d.attempts).toBe(3);
    expect(d.attempt_history.map((a) => [a.run, a.attempt, a.outcome])).toEqual([
      [1, 1, 'failed'],
      [1, 2, 'failed'],
      [1, 3, 'succeeded'],
    ]);
    for (const a of d.attempt_history) {
      expect(a.worker).toBe(engine.worker.id);
      expect(Date.parse(a.finished_at!)).toBeGreaterThanOrEqual(Date.parse(a.started_at));
    }
    expect(d.attempt_history[2]!.result).toEqual({ execution: 3 });
    expect(d.attempt_history[0]!.result).toBeUndefined();
    expect(d.attempt_history[0]!.error).toBeUndefined();
    expect(d.inputs).toEqual({ limit: 3 });
    expect(d.dependency_results).toEqual({ source: { rows: 42 } });
    expect(d.checkpoint).toMatchObject({ cursor: 30, attempt: 3 });
    // The source step: one attempt, its result, no parents.
    const source = await detail(task.task_uuid, done.steps.find((s) => s.name === 'source')!.stepUuid);
    expect(source.attempt_history).toMatchObject([
      { run: 1, attempt: 1, outcome: 'succeeded', result: { rows: 42 } },
    ]);
    expect(source.inputs).toEqual({ region: 'eu' });
    expect(source.dependency_results).toEqual({});
    expect(source.checkpoint).toBeNull();
  });

  it('a re-run starts a new run; the last attempt before it keeps its result; errors lose their stack for readers', async () => {
    const created = await api.app.inject({
      method: 'POST',
      url: '/v1/tasks',
      headers: { 'x-api-key': 'admin-key' },
      payload: { namespace: ns, name: 'flaky', context: {} },
    });
    const task = bodyOf(created, taskBody).task_uuid;
    const done = await waitForTask(db.pool, task);
    const step = done.steps.find((s) => s.name === 'flaky')!.stepUuid;
    const rerun = await api.app.inject({
      method: 'PATCH',
      url: `/v1/tasks/${task}/steps/${step}`,
      headers: { 'x-api-key': 'admin-key' },
      payload: { action_type: 'rerun_from', reason: 'again' },
    });
    expect(rerun.statusCode, rerun.body).toBe(200);
    expect((await waitForTask(db.pool, task)).state).toBe('complete');

    const d = await detail(task, step);
    expect(d.attempt_history.map((a) => [a.run, a.attempt, a.outcome])).toEqual([
      [1, 1, 'failed'],
      [1, 2, 'failed'],
      [1, 3, 'succeeded'],
      [2, 1, 'failed'],
      [2, 2, 'failed'],
      [2, 3, 'succeeded'],
    ]);
    expect(d.attempt_history[2]!.result).toEqual({ execution: 3 });
    expect(d.attempt_history[5]!.result).toEqual({ execution: 6 });
    expect(d.checkpoint).toMatchObject({ cursor: 60, attempt: 3 });

    // A stored error is shown on the attempt it belongs to (here the latest), its stack to operators only.
    await db.pool.query(`UPDATE tasker.workflow_steps SET results = $2 WHERE step_uuid = $1`, [
      step,
      JSON.stringify({
        success: false,
        result: null,
        error: { name: 'RetryableError', message: 'not yet', retryable: true, stack: 'at flaky (x.ts:1)' },
        metadata: { attempt: 3 },
      }),
    ]);
    const admin = await detail(task, step);
    expect(admin.attempt_history[5]!.error).toEqual({
      name: 'RetryableError',
      message: 'not yet',
      retryable: true,
      stack: 'at flaky (x.ts:1)',
    });
    const reader = await detail(task, step, 'reader-key');
    expect(reader.attempt_history[5]!.error).toEqual({
      name: 'RetryableError',
      message: 'not yet',
      retryable: true,
    });
  });
});
