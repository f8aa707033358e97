import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dlqEntryBody, dlqListBody, stepBody, taskBody, type ApiServer } from '../../src/api/index.js';
import { PermanentError } from '../../src/errors.js';
import { defineTemplate } from '../../src/templates/index.js';
import { defineHandler } from '../../src/worker/handler.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { startEngine, waitForTask, type Engine } from '../support/engine.js';
import { bodyOf, expectError, startApi } from './helpers.js';

const ns = 'api_dlq';
const failing = defineTemplate({ namespace: ns, name: 'failing', version: '1.0.0' })
  .step('ok', { handler: 'ok' })
  .step('bad', { handler: 'fails_first', dependsOn: ['ok'] })
  .step('after', { handler: 'ok', dependsOn: ['bad'] })
  .build();

/** Tasks whose `bad` step has failed once already: the next attempt succeeds. */
const failedOnce = new Set<string>();
const handlers = [
  defineHandler('ok', (ctx) => ({ step: ctx.stepName })),
  defineHandler('fails_first', (ctx) => {
    if (!failedOnce.has(ctx.taskUuid)) {
      failedOnce.add(ctx.taskUuid);
      throw new PermanentError('card declined', { code: 'CARD_DECLINED' });
    }
    return { recovered: true };
  }),
];

describe('dead-letter queue and step actions on failed tasks', () => {
  let db: TestDatabase;
  let engine: Engine;
  let api: ApiServer;
  const failed: string[] = [];

  beforeAll(async () => {
    db = await createTestDatabase();
    engine = await startEngine(db, { templates: [failing], handlers });
    api = await startApi(db);
    for (let i = 0; i < 3; i++) {
      const res = await api.app.inject({
        method: 'POST',
        url: '/v1/tasks',
        payload: { namespace: ns, name: 'failing', context: { i } },
      });
      failed.push(bodyOf(res, taskBody).task_uuid);
    }
    for (const uuid of failed) expect((await waitForTask(db.pool, uuid)).state).toBe('error');
  });

  afterAll(async () => {
    await api?.close();
    await engine?.stop();
    await db?.drop();
  });

  it('lists entries with filters and cursor pagination', async () => {
    const all = bodyOf(await api.app.inject({ url: '/v1/dlq?resolution_status=pending' }), dlqListBody);
    expect(all.items.map((e) => e.task_uuid).sort()).toEqual([...failed].sort());
    expect(
      all.items.every((e) => e.reason === 'permanent_failure' && e.resolution_status === 'pending'),
    ).toBe(true);

    const pages: string[] = [];
    let cursor: string | null = null;
    do {
      const url: string = `/v1/dlq?limit=1${cursor ? `&cursor=${cursor}` : ''}`;
      const page = bodyOf(await api.app.inject({ url }), dlqListBody);
      expect(page.items.length).toBeLessThanOrEqual(1);
      pages.push(...page.items.map((e) => e.dlq_entry_uuid));
      cursor = page.next_cursor;
    } while (cursor);
    expect(pages).toEqual(all.items.map((e) => e.dlq_entry_uuid));

    const none = bodyOf(await api.app.inject({ url: '/v1/dlq?reason=staleness_timeout' }), dlqListBody);
    expect(none.items).toEqual([]);
    expectError(await api.app.inject({ url: '/v1/dlq?reason=bored' }), 400, 'VALIDATION_FAILED');
    expectError(await api.app.inject({ url: '/v1/dlq?resolution_status=x' }), 400, 'VALIDATION_FAILED');
    expectError(await api.app.inject({ url: '/v1/dlq?limit=500' }), 400, 'VALIDATION_FAILED');
  });

  it('reads and updates one entry', async () => {
    const [entry] = bodyOf(await api.app.inject({ url: `/v1/dlq?limit=1` }), dlqListBody).items;
    const one = bodyOf(await api.app.inject({ url: `/v1/dlq/${entry!.dlq_entry_uuid}` }), dlqEntryBody);
    expect(one).toEqual(entry);
    expect(one.task_snapshot).toMatchObject({ task_uuid: one.task_uuid });

    const notes = await api.app.inject({
      method: 'PATCH',
      url: `/v1/dlq/${one.dlq_entry_uuid}`,
      payload: { resolution_notes: 'looking into it' },
    });
    expect(bodyOf(notes, dlqEntryBody)).toMatchObject({
      resolution_status: 'pending',
      resolution_notes: 'looking into it',
    });

    const resolved = bodyOf(
      await api.app.inject({
        method: 'PATCH',
        url: `/v1/dlq/${one.dlq_entry_uuid}`,
        payload: { resolution_status: 'permanently_failed' },
      }),
      dlqEntryBody,
    );
    expect(resolved).toMatchObject({
      resolution_status: 'permanently_failed',
      resolution_notes: 'looking into it',
      resolved_by: 'anonymous',
    });
    expect(resolved.resolved_at).not.toBeNull();
  });

  it('refuses bad updates and unknown entries', async () => {
    const [entry] = bodyOf(await api.app.inject({ url: `/v1/dlq?limit=1` }), dlqListBody).items;
    const url = `/v1/dlq/${entry!.dlq_entry_uuid}`;
    expectError(await api.app.inject({ method: 'PATCH', url, payload: {} }), 400, 'VALIDATION_FAILED');
    expectError(
      await api.app.inject({ method: 'PATCH', url, payload: { resolution_status: 'done' } }),
      400,
      'VALIDATION_FAILED',
    );
    expectError(
      await api.app.inject({ method: 'PATCH', url, payload: { resolved_by: 'x', mood: 'sad' } }),
      400,
      'VALIDATION_FAILED',
    );
    expectError(await api.app.inject({ url: `/v1/dlq/${randomUUID()}` }), 404, 'DLQ_ENTRY_NOT_FOUND');
    expectError(
      await api.app.inject({
        method: 'PATCH',
        url: `/v1/dlq/${randomUUID()}`,
        payload: { resolution_notes: 'x' },
      }),
      404,
      'DLQ_ENTRY_NOT_FOUND',
    );
    const bad = expectError(await api.app.inject({ url: '/v1/dlq/123' }), 400, 'VALIDATION_FAILED');
    expect(bad.message).toContain('dlq_entry_uuid');
  });

  it('reset_for_retry on the failed step resumes the task to completion', async () => {
    const taskUuid = failed.at(-1)!;
    const task = bodyOf(await api.app.inject({ url: `/v1/tasks/${taskUuid}` }), taskBody);
    const bad = task.steps.find((s) => s.name === 'bad')!;
    expect(bad).toMatchObject({ state: 'error', readiness: 'failed' });
    expect(bad.error?.message).toContain('card declined');
    expect(task.steps.find((s) => s.name === 'after')?.readiness).toBe('waiting_for_dependencies');

    const res = await api.app.inject({
      method: 'PATCH',
      url: `/v1/tasks/${taskUuid}/steps/${bad.step_uuid}`,
      payload: { action_type: 'reset_for_retry', reason: 'card replaced', by: 'ops' },
    });
    expect(res.statusCode, res.body).toBe(200);
    // The reset step is re-enqueued in the same transaction, so a worker may already be running it.
    expect(bodyOf(res, stepBody).state).not.toBe('error');

    const done = await waitForTask(db.pool, taskUuid);
    expect(done.state).toBe('complete');
  });
});
