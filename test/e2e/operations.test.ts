import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PermanentError } from '../../src/errors.js';
import {
  applyStepAction,
  cancelTask,
  getDlq,
  getTemplate,
  listDlq,
  listTasks,
  listTemplates,
  stepTransitions,
  taskTransitions,
  updateDlq,
} from '../../src/orchestration/operations.js';
import { getTask } from '../../src/orchestration/task-queries.js';
import { defineTemplate } from '../../src/templates/index.js';
import { defineHandler } from '../../src/worker/handler.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { startEngine, waitForTask, type Engine } from '../support/engine.js';

const ns = 'ops_e2e';
const strict = defineTemplate({ namespace: ns, name: 'strict', version: '1.0.0', identityStrategy: 'strict' })
  .step('only', { handler: 'ok' })
  .build();
const callerProvided = defineTemplate({
  namespace: ns,
  name: 'caller_provided',
  version: '1.0.0',
  identityStrategy: 'caller_provided',
})
  .step('only', { handler: 'ok' })
  .build();
const unique = defineTemplate({ namespace: ns, name: 'unique', version: '1.0.0' })
  .step('only', { handler: 'ok' })
  .build();
const fragile = defineTemplate({ namespace: ns, name: 'fragile', version: '1.0.0' })
  .step('first', { handler: 'ok' })
  .step('flaky', { handler: 'flaky', dependsOn: ['first'], retry: { maxAttempts: 1 } })
  .step('last', { handler: 'echo', dependsOn: ['flaky'] })
  .build();
const slow = defineTemplate({ namespace: ns, name: 'slow', version: '1.0.0' })
  .step('waits', { handler: 'waits' })
  .step('never', { handler: 'ok', dependsOn: ['waits'] })
  .build();

let flakyFails = true;
const aborted: string[] = [];
const handlers = [
  defineHandler('ok', () => ({ ok: true })),
  defineHandler('flaky', () => {
    if (flakyFails) throw new PermanentError('upstream said no');
    return { recovered: true };
  }),
  defineHandler('echo', (ctx) => ({ saw: ctx.dependencyResults.flaky })),
  defineHandler(
    'waits',
    (ctx) =>
      new Promise((_, reject) =>
        ctx.signal.addEventListener('abort', () => {
          aborted.push(ctx.taskUuid);
          reject(new Error('aborted'));
        }),
      ),
  ),
];

describe('engine operations', () => {
  let db: TestDatabase;
  let engine: Engine;

  beforeAll(async () => {
    db = await createTestDatabase();
    engine = await startEngine(db, { templates: [strict, callerProvided, unique, fragile, slow], handlers });
  });
  afterAll(async () => {
    await engine?.stop();
    await db?.drop();
  });

  describe('identity strategies', () => {
    it('strict: the same context (in any key order) is refused with the existing task id', async () => {
      const first = await engine.orchestrator.createTask({
        namespace: ns,
        name: 'strict',
        context: { a: 1, b: [1, 2] },
      });
      const err = await engine.orchestrator
        .createTask({ namespace: ns, name: 'strict', context: { b: [1, 2], a: 1 } })
        .catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'TASK_DUPLICATE', details: { task_uuid: first.taskUuid } });
      const other = await engine.orchestrator.createTask({
        namespace: ns,
        name: 'strict',
        context: { a: 2 },
      });
      expect(other.taskUuid).not.toBe(first.taskUuid);
    });

    it('strict: a thundering herd of identical requests creates exactly one task', async () => {
      const results = await Promise.allSettled(
        Array.from({ length: 20 }, () =>
          engine.orchestrator.createTask({ namespace: ns, name: 'strict', context: { herd: 1 } }),
        ),
      );
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      expect(
        results.filter((r) => r.status === 'rejected').map((r) => (r.reason as { code: string }).code),
      ).toEqual(Array(19).fill('TASK_DUPLICATE'));
    });

    it('caller_provided: a key is required, and the same key returns the existing task', async () => {
      await expect(
        engine.orchestrator.createTask({ namespace: ns, name: 'caller_provided', context: {} }),
      ).rejects.toMatchObject({
        code: 'TASK_INVALID',
      });
      const a = await engine.orchestrator.createTask({
        namespace: ns,
        name: 'caller_provided',
        context: {},
        idempotencyKey: 'k-1',
      });
      const b = await engine.orchestrator.createTask({
        namespace: ns,
        name: 'caller_provided',
        context: { different: true },
        idempotencyKey: 'k-1',
      });
      expect(a.existing).toBe(false);
      expect(b).toMatchObject({ taskUuid: a.taskUuid, existing: true });
    });

    it('always_unique creates a task per request; an idempotency_key still deduplicates', async () => {
      const a = await engine.orchestrator.createTask({ namespace: ns, name: 'unique', context: { x: 1 } });
      const b = await engine.orchestrator.createTask({ namespace: ns, name: 'unique', context: { x: 1 } });
      expect(a.taskUuid).not.toBe(b.taskUuid);
      const c = await engine.orchestrator.createTask({
        namespace: ns,
        name: 'unique',
        context: {},
        idempotencyKey: 'u',
      });
      const d = await engine.orchestrator.createTask({
        namespace: ns,
        name: 'unique',
        context: {},
        idempotencyKey: 'u',
      });
      expect(d.taskUuid).toBe(c.taskUuid);
    });
  });

  describe('cancel', () => {
    it('cancels unfinished steps, aborts the running handler, and refuses a second cancel', async () => {
      const { taskUuid } = await engine.orchestrator.createTask({ namespace: ns, name: 'slow', context: {} });
      const deadline = Date.now() + 10_000;
      while ((await getTask(db.pool, taskUuid))!.steps[0]!.state !== 'in_progress' && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 20));
      }
      const res = await cancelTask(db.pool, taskUuid, { reason: 'no longer needed', by: 'ops' });
      expect(res).toEqual({ state: 'cancelled', stepsCancelled: 2 });
      const task = await getTask(db.pool, taskUuid);
      expect(task!.state).toBe('cancelled');
      expect(task!.steps.map((s) => s.state)).toEqual(['cancelled', 'cancelled']);
      while (!aborted.includes(taskUuid) && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 20));
      }
      expect(aborted).toContain(taskUuid);
      await expect(cancelTask(db.pool, taskUuid)).rejects.toMatchObject({ code: 'INVALID_TRANSITION' });
      await expect(cancelTask(db.pool, '01900000-0000-7000-8000-000000000000')).rejects.toMatchObject({
        code: 'TASK_NOT_FOUND',
      });
      const audit = await taskTransitions(db.pool, taskUuid);
      const last = audit.filter((t) => t.entity === 'task').at(-1)!;
      expect(last).toMatchObject({
        toState: 'cancelled',
        event: 'Cancel',
        metadata: { reason: 'no longer needed', by: 'ops' },
      });
    });
  });

  /** A `fragile` task that ended in error because its `flaky` step failed permanently. */
  async function failedFragileTask() {
    flakyFails = true;
    const { taskUuid } = await engine.orchestrator.createTask({
      namespace: ns,
      name: 'fragile',
      context: {},
    });
    const failed = await waitForTask(db.pool, taskUuid);
    expect(failed.state).toBe('error');
    return { taskUuid, failed, flaky: failed.steps.find((s) => s.name === 'flaky')! };
  }

  describe('operator actions resume a failed task', () => {
    it('reset_for_retry: the step runs again and the task completes; its dead-letter entry is resolved', async () => {
      flakyFails = true;
      const { taskUuid } = await engine.orchestrator.createTask({
        namespace: ns,
        name: 'fragile',
        context: {},
      });
      const failed = await waitForTask(db.pool, taskUuid);
      expect(failed.state).toBe('error');
      const dlq = await listDlq(db.pool, { resolutionStatus: 'pending' });
      const entry = dlq.items.find((e) => e.taskUuid === taskUuid)!;
      expect(entry).toMatchObject({ reason: 'permanent_failure', originalState: 'error' });

      flakyFails = false;
      const flaky = failed.steps.find((s) => s.name === 'flaky')!;
      const res = await applyStepAction(db.pool, taskUuid, flaky.stepUuid, {
        action: 'reset_for_retry',
        reason: 'upstream fixed',
        by: 'ops',
      });
      expect(res.stepState).toBe('pending');
      expect(res.taskState).toBe('steps_in_process');
      const done = await waitForTask(db.pool, taskUuid);
      expect(done.state).toBe('complete');
      expect(done.steps.find((s) => s.name === 'flaky')).toMatchObject({
        attempts: 1,
        result: { recovered: true },
      });
      expect((await getDlq(db.pool, entry.dlqEntryUuid)).resolutionStatus).toBe('manually_resolved');
      const history = await stepTransitions(db.pool, taskUuid, flaky.stepUuid);
      expect(history.map((h) => h.event)).toContain('ResetForRetry');
    });

    it('complete_manually: dependents read the operator-supplied result', async () => {
      const { taskUuid, flaky } = await failedFragileTask();
      await applyStepAction(db.pool, taskUuid, flaky.stepUuid, {
        action: 'complete_manually',
        reason: 'done by hand',
        by: 'ops',
        result: { manual: 42 },
      });
      const done = await waitForTask(db.pool, taskUuid);
      expect(done.state).toBe('complete');
      expect(done.steps.find((s) => s.name === 'last')!.result).toEqual({ saw: { manual: 42 } });
    });

    it('resolve_manually: the step is bypassed and the task finishes', async () => {
      const { taskUuid, flaky } = await failedFragileTask();
      await applyStepAction(db.pool, taskUuid, flaky.stepUuid, {
        action: 'resolve_manually',
        reason: 'skip',
        by: 'ops',
      });
      const done = await waitForTask(db.pool, taskUuid);
      expect(done.state).toBe('complete');
      expect(done.steps.find((s) => s.name === 'flaky')!.state).toBe('resolved_manually');
    });

    it('refuses actions a step state does not allow, with a clear error', async () => {
      const { taskUuid } = await engine.orchestrator.createTask({
        namespace: ns,
        name: 'unique',
        context: {},
      });
      const task = await waitForTask(db.pool, taskUuid);
      const step = task.steps[0]!;
      await expect(
        applyStepAction(db.pool, taskUuid, step.stepUuid, {
          action: 'reset_for_retry',
          reason: 'x',
          by: 'ops',
        }),
      ).rejects.toMatchObject({ code: 'INVALID_TRANSITION' });
      await expect(
        applyStepAction(db.pool, taskUuid, '01900000-0000-7000-8000-000000000000', {
          action: 'resolve_manually',
          reason: 'x',
          by: 'o',
        }),
      ).rejects.toMatchObject({ code: 'STEP_NOT_FOUND' });
      await expect(
        applyStepAction(db.pool, taskUuid, step.stepUuid, {
          action: 'resolve_manually',
          reason: '',
          by: 'o',
        }),
      ).rejects.toMatchObject({ code: 'TASK_INVALID' });
    });
  });

  describe('listing and reading', () => {
    it('lists tasks newest first with filters and cursor pagination', async () => {
      // Created one after another: UUIDv7 orders tasks by creation time only across milliseconds.
      const tagged: Awaited<ReturnType<typeof engine.orchestrator.createTask>>[] = [];
      for (const i of [1, 2, 3]) {
        await new Promise((r) => setTimeout(r, 2));
        tagged.push(
          await engine.orchestrator.createTask({
            namespace: ns,
            name: 'unique',
            context: { i },
            tags: ['batch-7', `n${i}`],
          }),
        );
      }
      await Promise.all(tagged.map((t) => waitForTask(db.pool, t.taskUuid)));
      const page1 = await listTasks(db.pool, { tags: ['batch-7'] }, { limit: 2 });
      expect(page1.items.map((t) => t.taskUuid)).toEqual([tagged[2]!.taskUuid, tagged[1]!.taskUuid]);
      expect(page1.nextCursor).not.toBeNull();
      const page2 = await listTasks(db.pool, { tags: ['batch-7'] }, { limit: 2, cursor: page1.nextCursor! });
      expect(page2.items.map((t) => t.taskUuid)).toEqual([tagged[0]!.taskUuid]);
      expect(page2.nextCursor).toBeNull();
      const byState = await listTasks(db.pool, { namespace: ns, name: 'slow', state: ['cancelled'] });
      expect(byState.items.length).toBeGreaterThan(0);
      expect(byState.items.every((t) => t.state === 'cancelled' && t.name === 'slow')).toBe(true);
      const none = await listTasks(db.pool, { namespace: ns, createdFrom: new Date(Date.now() + 3_600_000) });
      expect(none.items).toEqual([]);
      await expect(listTasks(db.pool, {}, { cursor: 'not-a-cursor' })).rejects.toMatchObject({
        code: 'TASK_INVALID',
      });
    });

    it('task transitions: every step and task change in order, with stable keys', async () => {
      const { taskUuid } = await engine.orchestrator.createTask({
        namespace: ns,
        name: 'unique',
        context: {},
      });
      await waitForTask(db.pool, taskUuid);
      const history = await taskTransitions(db.pool, taskUuid);
      expect(history.filter((h) => h.entity === 'task').map((h) => h.toState)).toEqual([
        'pending',
        'initializing',
        'enqueuing_steps',
        'steps_in_process',
        'evaluating_results',
        'complete',
      ]);
      expect(history.filter((h) => h.entity === 'step').map((h) => h.toState)).toEqual([
        'pending',
        'enqueued',
        'in_progress',
        'enqueued_for_orchestration',
        'complete',
      ]);
      expect(new Set(history.map((h) => h.key)).size).toBe(history.length);
    });

    it('templates: list and get with the DAG', async () => {
      const all = await listTemplates(db.pool);
      expect(all.find((t) => t.name === 'strict')).toMatchObject({
        identityStrategy: 'strict',
        stepCount: 1,
      });
      const t = await getTemplate(db.pool, ns, 'fragile');
      expect(t.version).toBe('1.0.0');
      expect(t.dag).toEqual({
        nodes: ['first', 'flaky', 'last'],
        edges: [
          ['first', 'flaky'],
          ['flaky', 'last'],
        ],
      });
      await expect(getTemplate(db.pool, ns, 'nope')).rejects.toMatchObject({ code: 'TEMPLATE_NOT_FOUND' });
    });

    it('dead-letter entries: update resolution, and a resolved task may get a new entry later', async () => {
      flakyFails = true;
      const { taskUuid } = await engine.orchestrator.createTask({
        namespace: ns,
        name: 'fragile',
        context: {},
      });
      await waitForTask(db.pool, taskUuid);
      const entry = (await listDlq(db.pool, { reason: 'permanent_failure' })).items.find(
        (e) => e.taskUuid === taskUuid,
      )!;
      const updated = await updateDlq(db.pool, entry.dlqEntryUuid, {
        resolutionStatus: 'permanently_failed',
        resolvedBy: 'ops',
      });
      expect(updated).toMatchObject({ resolutionStatus: 'permanently_failed', resolvedBy: 'ops' });
      expect(updated.resolvedAt).toBeInstanceOf(Date);
      const notesOnly = await updateDlq(db.pool, entry.dlqEntryUuid, { resolutionNotes: 'vendor outage' });
      expect(notesOnly).toMatchObject({
        resolutionStatus: 'permanently_failed',
        resolutionNotes: 'vendor outage',
      });
      await expect(getDlq(db.pool, '01900000-0000-7000-8000-000000000000')).rejects.toMatchObject({
        code: 'DLQ_ENTRY_NOT_FOUND',
      });
    });
  });
});
