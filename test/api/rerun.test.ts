/**
 * Re-running a task from a step through the API (`PATCH .../steps/{step} {action_type: 'rerun_from'}`), with a
 * real orchestrator and worker running the steps again.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stepBody, taskBody, transitionListBody, type ApiServer } from '../../src/api/index.js';
import { PermanentError } from '../../src/errors.js';
import { getTask } from '../../src/orchestration/task-queries.js';
import { defineTemplate } from '../../src/templates/index.js';
import { defineHandler } from '../../src/worker/handler.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { startEngine, waitForTask, type Engine } from '../support/engine.js';
import { Executions, gate, until } from '../support/wait.js';
import { bodyOf, expectError, startApi } from './helpers.js';

const ns = 'api_rerun';
const linear4 = defineTemplate({ namespace: ns, name: 'linear4', version: '1.0.0' })
  .step('s1', { handler: 'count' })
  .step('s2', { handler: 'count', dependsOn: ['s1'] })
  .step('s3', { handler: 'count', dependsOn: ['s2'] })
  .step('s4', { handler: 'count', dependsOn: ['s3'] })
  .build();
/** a, then b (fails for good) and c (held by a gate) side by side. */
const fork = defineTemplate({ namespace: ns, name: 'fork', version: '1.0.0' })
  .step('a', { handler: 'count' })
  .step('b', { handler: 'fails', dependsOn: ['a'], retry: { maxAttempts: 1 } })
  .step('c', { handler: 'held', dependsOn: ['a'] })
  .build();

const executions = new Executions();
let held = gate();
const handlers = [
  defineHandler('count', (ctx) => ({
    step: ctx.stepName,
    run: executions.record(ctx.taskUuid, ctx.stepName),
  })),
  defineHandler('fails', () => {
    throw new PermanentError('upstream said no');
  }),
  defineHandler('held', async () => {
    await held.promise;
    return { held: true };
  }),
];

const ADMIN = { 'x-api-key': 'admin-key' };
const READER = { 'x-api-key': 'reader-key' };

describe('re-run from a step', () => {
  let db: TestDatabase;
  let engine: Engine;
  let api: ApiServer;

  beforeAll(async () => {
    db = await createTestDatabase();
    engine = await startEngine(db, { templates: [linear4, fork], handlers });
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
    held.open();
    await api?.close();
    await engine?.stop();
    await db?.drop();
  });

  async function createTask(name: string): Promise<string> {
    const res = await api.app.inject({
      method: 'POST',
      url: '/v1/tasks',
      headers: ADMIN,
      payload: { namespace: ns, name, context: {} },
    });
    expect(res.statusCode, res.body).toBe(201);
    return bodyOf(res, taskBody).task_uuid;
  }

  async function rerun(task: string, step: string, body: Record<string, unknown>, headers = ADMIN) {
    return api.app.inject({
      method: 'PATCH',
      url: `/v1/tasks/${task}/steps/${step}`,
      headers,
      payload: { action_type: 'rerun_from', ...body },
    });
  }

  it('a completed linear task re-run from its second step runs exactly steps 2-4 again and completes', async () => {
    const task = await createTask('linear4');
    const done = await waitForTask(db.pool, task);
    expect(done.state).toBe('complete');
    const byName = new Map(done.steps.map((s) => [s.name, s]));

    const res = await rerun(task, byName.get('s2')!.stepUuid, { reason: 'the price table was wrong' });
    expect(res.statusCode, res.body).toBe(200);
    const step = bodyOf(res, stepBody);
    expect(step.step_uuid).toBe(byName.get('s2')!.stepUuid);
    expect(['pending', 'enqueued', 'in_progress', 'enqueued_for_orchestration', 'complete']).toContain(
      step.state,
    );

    // The re-run committed with the task reopened, so the next finished state is the second run's.
    const again = await waitForTask(db.pool, task);
    expect(again.state).toBe('complete');
    expect(['s1', 's2', 's3', 's4'].map((s) => executions.of(task, s))).toEqual([1, 2, 2, 2]);
    const results = Object.fromEntries(again.steps.map((s) => [s.name, s.result]));
    expect(results).toEqual({
      s1: { step: 's1', run: 1 },
      s2: { step: 's2', run: 2 },
      s3: { step: 's3', run: 2 },
      s4: { step: 's4', run: 2 },
    });
    expect(again.completedAt).not.toBeNull();

    // Audited: the task's Rerun hop names the operator, the reason and the origin; each reset step has a row.
    const trail = bodyOf(
      await api.app.inject({ url: `/v1/tasks/${task}/transitions`, headers: ADMIN }),
      transitionListBody,
    ).items;
    const taskRerun = trail.filter((t) => t.entity === 'task' && t.event === 'Rerun');
    expect(taskRerun).toHaveLength(1);
    expect(taskRerun[0]).toMatchObject({
      from_state: 'complete',
      to_state: 'evaluating_results',
      metadata: {
        action: 'rerun_from',
        by: 'admin',
        reason: 'the price table was wrong',
        origin_step_name: 's2',
        steps_reset: 3,
      },
    });
    const stepReruns = trail.filter((t) => t.entity === 'step' && t.event === 'Rerun');
    expect(stepReruns.map((t) => t.step_name).sort()).toEqual(['s2', 's3', 's4']);
    expect(stepReruns.find((t) => t.step_name === 's3')?.metadata).toMatchObject({
      previous_state: 'complete',
      previous_attempts: 1,
      previous_results: { success: true, result: { step: 's3', run: 1 } },
    });
  });

  it('refuses an unknown task or step (404), a missing reason (400) and a read-only caller (403)', async () => {
    const task = await createTask('linear4');
    const done = await waitForTask(db.pool, task);
    const s2 = done.steps.find((s) => s.name === 's2')!.stepUuid;
    expectError(await rerun(task, randomUUID(), { reason: 'x' }), 404, 'STEP_NOT_FOUND');
    expectError(await rerun(randomUUID(), s2, { reason: 'x' }), 404, 'TASK_NOT_FOUND');
    const noReason = expectError(await rerun(task, s2, {}), 400, 'VALIDATION_FAILED');
    expect(noReason.details?.issues).toEqual([expect.objectContaining({ path: 'reason' })]);
    expectError(await rerun(task, s2, { reason: '' }), 400, 'VALIDATION_FAILED');
    expectError(await rerun(task, s2, { reason: 'x' }, READER), 403, 'FORBIDDEN');
    // Nothing changed.
    const after = await getTask(db.pool, task);
    expect(after?.state).toBe('complete');
    expect(executions.of(task, 's2')).toBe(1);
  });

  it('refuses (409) while a step below is running, and a cancelled task', async () => {
    held = gate();
    const task = await createTask('fork');
    // b fails for good while c is held: the task is blocked by the failure, c still running.
    await until(
      async () => (await getTask(db.pool, task))?.state === 'blocked_by_failures',
      'a blocked task',
    );
    const view = (await getTask(db.pool, task))!;
    const id = (name: string) => view.steps.find((s) => s.name === name)!.stepUuid;
    const running = expectError(await rerun(task, id('a'), { reason: 'again' }), 409, 'INVALID_TRANSITION');
    expect(running.message).toMatch(/running: c \(in_progress\)/);

    // Cancelled while c still runs: a cancelled task is never re-run.
    const cancel = await api.app.inject({ method: 'DELETE', url: `/v1/tasks/${task}`, headers: ADMIN });
    expect(cancel.statusCode, cancel.body).toBe(200);
    const refused = expectError(await rerun(task, id('b'), { reason: 'again' }), 409, 'INVALID_TRANSITION');
    expect(refused.message).toMatch(/cancelled/);
    held.open();
    expect((await getTask(db.pool, task))?.state).toBe('cancelled');
  });

  it('a failed task re-run from the failed step resumes and closes its dead-letter entry', async () => {
    held = gate();
    held.open();
    const task = await createTask('fork');
    expect((await waitForTask(db.pool, task)).state).toBe('error');
    const dlq = await db.pool.query<{ resolution_status: string }>(
      'SELECT resolution_status FROM tasker.tasks_dlq WHERE task_uuid = $1',
      [task],
    );
    expect(dlq.rows).toEqual([{ resolution_status: 'pending' }]);
    const b = (await getTask(db.pool, task))!.steps.find((s) => s.name === 'b')!.stepUuid;
    const res = await rerun(task, b, { reason: 'try again', by: 'alice' });
    expect(res.statusCode, res.body).toBe(200);
    // b fails again (its handler always does): the task fails again and files a new entry.
    expect((await waitForTask(db.pool, task)).state).toBe('error');
    const after = await db.pool.query<{ resolution_status: string; resolved_by: string | null }>(
      'SELECT resolution_status, resolved_by FROM tasker.tasks_dlq WHERE task_uuid = $1 ORDER BY created_at',
      [task],
    );
    expect(after.rows).toEqual([
      { resolution_status: 'manually_resolved', resolved_by: 'alice' },
      { resolution_status: 'pending', resolved_by: null },
    ]);
  });
});
