/**
 * `POST /v1/tasks/bulk`: cancel or retry the failed steps of a list of tasks or of every task a filter selects;
 * counts, dry runs, the cap, chunks, audit rows, permissions and bad input.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bulkTaskResultBody, type ApiServer } from '../../src/api/index.js';
import { createTasks } from '../../src/orchestration/bulk-create.js';
import { registerTemplate } from '../../src/orchestration/template-registry.js';
import { defineTemplate } from '../../src/templates/index.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { finished } from '../sql/support.js';
import { bodyOf, expectError, startApi } from './helpers.js';

const ns = 'api_bulk';
const one = defineTemplate({ namespace: ns, name: 'one', version: '1.0.0' })
  .step('only', { handler: 'noop', retry: { maxAttempts: 1 } })
  .build();
const two = defineTemplate({ namespace: ns, name: 'two', version: '1.0.0' })
  .step('left', { handler: 'noop', retry: { maxAttempts: 1 } })
  .step('right', { handler: 'noop', retry: { maxAttempts: 1 } })
  .build();

const ADMIN = { 'x-api-key': 'admin-key' };
const READER = { 'x-api-key': 'reader-key' };
const CANCELLER = { 'x-api-key': 'cancel-key' };

describe('bulk task actions', () => {
  let db: TestDatabase;
  let api: ApiServer;

  beforeAll(async () => {
    db = await createTestDatabase();
    for (const t of [one, two]) await registerTemplate(db.pool, t);
    api = await startApi(db, {
      orchestration: {
        api: {
          bulk_max_tasks: 200,
          auth: {
            enabled: true,
            api_keys: [
              { name: 'admin', key: 'admin-key', permissions: ['*'] },
              { name: 'reader', key: 'reader-key', permissions: ['tasks:read', 'steps:read'] },
              { name: 'canceller', key: 'cancel-key', permissions: ['tasks:cancel'] },
            ],
          },
        },
      },
    });
  });
  afterAll(async () => {
    await api?.close();
    await db?.drop();
  });

  async function create(n: number, name = 'one', tags: string[] = []): Promise<string[]> {
    const created = await createTasks(
      db.pool,
      Array.from({ length: n }, () => ({ namespace: ns, name, context: {}, tags })),
    );
    return created.map((c) => {
      if (!c.ok) throw c.error;
      return c.task.taskUuid;
    });
  }

  /** Fails the named steps of a task for good, as a worker's results would through resolution. */
  async function fail(task: string, steps: string[]): Promise<void> {
    const client = await db.pool.connect();
    try {
      for (const name of steps) {
        const step = await client.query<{ step_uuid: string }>(
          'SELECT step_uuid FROM tasker.workflow_steps WHERE task_uuid = $1 AND name = $2',
          [task, name],
        );
        const uuid = step.rows[0]!.step_uuid;
        await finished(client, uuid, { success: false, error: { message: 'down', retryable: false } });
        await client.query(`DELETE FROM tasker.queue_messages WHERE message->>'step_uuid' = $1`, [uuid]);
        await client.query(`SELECT * FROM tasker.resolve_steps(ARRAY[$1]::uuid[], 'test')`, [uuid]);
      }
    } finally {
      client.release();
    }
  }

  async function stateOf(tasks: string[]): Promise<string[]> {
    const res = await db.pool.query<{ task_uuid: string; state: string }>(
      'SELECT task_uuid, state FROM tasker.tasks WHERE task_uuid = ANY($1)',
      [tasks],
    );
    const byUuid = new Map(res.rows.map((r) => [r.task_uuid, r.state]));
    return tasks.map((t) => byUuid.get(t) ?? 'missing');
  }

  async function bulk(payload: Record<string, unknown>, headers: Record<string, string> = ADMIN) {
    return api.app.inject({ method: 'POST', url: '/v1/tasks/bulk', headers, payload });
  }

  it('cancels listed tasks: counts the ones it applies to, audits each as a cancel by the caller', async () => {
    const [a, b, c, done] = await create(4);
    await api.app.inject({ method: 'DELETE', url: `/v1/tasks/${done}`, headers: ADMIN });
    const payload = { action: 'cancel', task_uuids: [a, b, c, done, randomUUID(), a], reason: 'bad batch' };

    const dry = await bulk({ ...payload, dry_run: true });
    expect(bodyOf(dry, bulkTaskResultBody)).toEqual({ matched: 3, affected: 0, dry_run: true });
    expect(await stateOf([a!, b!, c!])).toEqual(['steps_in_process', 'steps_in_process', 'steps_in_process']);

    const res = await bulk(payload, CANCELLER);
    expect(bodyOf(res, bulkTaskResultBody)).toEqual({ matched: 3, affected: 3, dry_run: false });
    expect(await stateOf([a!, b!, c!, done!])).toEqual(['cancelled', 'cancelled', 'cancelled', 'cancelled']);
    const audit = await db.pool.query<{ metadata: Record<string, unknown> }>(
      `SELECT metadata FROM tasker.task_transitions WHERE task_uuid = $1 AND to_state = 'cancelled'`,
      [b],
    );
    expect(audit.rows).toEqual([{ metadata: { reason: 'bad batch', by: 'canceller' } }]);

    // Again: nothing left to cancel.
    expect(bodyOf(await bulk(payload), bulkTaskResultBody)).toEqual({
      matched: 0,
      affected: 0,
      dry_run: false,
    });
  });

  it('cancels every task a filter selects, in chunks, and only those', async () => {
    const tagged = await create(150, 'one', ['wave-1']);
    const spared = await create(3, 'one', ['wave-2']);
    const filter = { namespace: ns, tag: ['wave-1'] };
    expect(
      bodyOf(await bulk({ action: 'cancel', filter, reason: 'r', dry_run: true }), bulkTaskResultBody),
    ).toEqual({
      matched: 150,
      affected: 0,
      dry_run: true,
    });
    const res = await bulk({ action: 'cancel', filter, reason: 'wave 1 was wrong' });
    expect(bodyOf(res, bulkTaskResultBody)).toEqual({ matched: 150, affected: 150, dry_run: false });
    expect(new Set(await stateOf(tagged))).toEqual(new Set(['cancelled']));
    expect(new Set(await stateOf(spared))).toEqual(new Set(['steps_in_process']));
    // A state filter is intersected with the states the action applies to.
    const finishedOnly = await bulk({
      action: 'cancel',
      filter: { ...filter, state: ['cancelled'] },
      reason: 'r',
    });
    expect(bodyOf(finishedOnly, bulkTaskResultBody)).toEqual({ matched: 0, affected: 0, dry_run: false });
  });

  it('refuses a filter selecting more tasks than the cap, saying to narrow it; nothing changes', async () => {
    const many = await create(201, 'one', ['wave-3']);
    const refused = expectError(
      await bulk({ action: 'cancel', filter: { tag: ['wave-3'] }, reason: 'r' }),
      400,
      'TASK_INVALID',
    );
    expect(refused.message).toMatch(/more than 200 tasks.*narrow/);
    expect(refused.details).toMatchObject({ max_tasks: 200 });
    expect(new Set(await stateOf(many))).toEqual(new Set(['steps_in_process']));
    // A narrower filter goes through.
    const part = await bulk({ action: 'cancel', filter: { tag: ['wave-3'], search: many[0]! }, reason: 'r' });
    expect(bodyOf(part, bulkTaskResultBody)).toEqual({ matched: 1, affected: 1, dry_run: false });
  });

  it('retry_failed resets every failed step of failed tasks, as reset_for_retry would, and the tasks resume', async () => {
    const [x, y, running] = await create(3, 'two');
    await fail(x!, ['left', 'right']);
    await fail(y!, ['left']);
    await fail(y!, ['right']);
    expect(await stateOf([x!, y!, running!])).toEqual(['error', 'error', 'steps_in_process']);

    const res = await bulk({
      action: 'retry_failed',
      task_uuids: [x, y, running],
      reason: 'upstream is back',
    });
    expect(bodyOf(res, bulkTaskResultBody)).toEqual({ matched: 2, affected: 2, dry_run: false });
    expect(await stateOf([x!, y!])).toEqual(['steps_in_process', 'steps_in_process']);
    const steps = await db.pool.query<{ state: string; attempts: number }>(
      'SELECT state, attempts FROM tasker.workflow_steps WHERE task_uuid = ANY($1)',
      [[x, y]],
    );
    expect(steps.rows).toHaveLength(4);
    for (const s of steps.rows) expect(s).toEqual({ state: 'enqueued', attempts: 0 });
    const audit = await db.pool.query<{ event: string; metadata: Record<string, unknown> }>(
      `SELECT st.event, st.metadata FROM tasker.workflow_step_transitions st
       JOIN tasker.workflow_steps s ON s.step_uuid = st.step_uuid
       WHERE s.task_uuid = $1 AND st.to_state = 'pending' AND st.from_state = 'error'`,
      [x],
    );
    expect(audit.rows).toHaveLength(2);
    for (const row of audit.rows) {
      expect(row).toEqual({
        event: 'ResetForRetry',
        metadata: { action: 'reset_for_retry', reason: 'upstream is back', by: 'admin', bulk: true },
      });
    }
    const dlq = await db.pool.query<{ resolution_status: string }>(
      'SELECT resolution_status FROM tasker.tasks_dlq WHERE task_uuid = ANY($1)',
      [[x, y]],
    );
    expect(dlq.rows.map((r) => r.resolution_status)).toEqual(['manually_resolved', 'manually_resolved']);
  });

  it('needs the permission of the single action (403 otherwise); nothing changes', async () => {
    const [t] = await create(1);
    expectError(await bulk({ action: 'cancel', task_uuids: [t], reason: 'r' }, READER), 403, 'FORBIDDEN');
    expectError(
      await bulk({ action: 'retry_failed', task_uuids: [t], reason: 'r', dry_run: true }, CANCELLER),
      403,
      'FORBIDDEN',
    );
    expectError(await bulk({ action: 'cancel', task_uuids: [t], reason: 'r' }, {}), 401, 'UNAUTHENTICATED');
    expect(await stateOf([t!])).toEqual(['steps_in_process']);
  });

  it('refuses bad input with 400 naming the field', async () => {
    const [t] = await create(1);
    const cases: [Record<string, unknown>, string][] = [
      [{ action: 'cancel', reason: 'r' }, 'task_uuids'],
      [{ action: 'cancel', task_uuids: [t], filter: {}, reason: 'r' }, 'task_uuids'],
      [{ action: 'cancel', task_uuids: [t] }, 'reason'],
      [{ action: 'cancel', task_uuids: [t], reason: '' }, 'reason'],
      [{ action: 'explode', task_uuids: [t], reason: 'r' }, 'action'],
      [{ action: 'cancel', task_uuids: [], reason: 'r' }, 'task_uuids'],
      [{ action: 'cancel', task_uuids: ['nope'], reason: 'r' }, 'task_uuids[0]'],
      [
        { action: 'cancel', task_uuids: Array.from({ length: 1001 }, () => randomUUID()), reason: 'r' },
        'task_uuids',
      ],
      [{ action: 'cancel', filter: { state: ['done'] }, reason: 'r' }, 'filter.state[0]'],
      [{ action: 'cancel', filter: { colour: 'red' }, reason: 'r' }, 'filter.colour'],
      [{ action: 'cancel', task_uuids: [t], reason: 'r', dry_run: 'yes' }, 'dry_run'],
    ];
    for (const [payload, path] of cases) {
      const error = expectError(await bulk(payload), 400, 'VALIDATION_FAILED');
      const paths = (error.details?.issues as { path: string }[]).map((i) => i.path);
      expect(paths, JSON.stringify(payload).slice(0, 80)).toContain(path);
    }
    expect(await stateOf([t!])).toEqual(['steps_in_process']);
  });
});
