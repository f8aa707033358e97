/**
 * `GET /v1/tasks?search=`: a task uuid or a prefix of one, a correlation id, an idempotency key, a stored
 * identity hash; combined with the other filters and with cursor pagination.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { taskListBody, type ApiServer, type TaskListBody } from '../../src/api/index.js';
import { createTasks } from '../../src/orchestration/bulk-create.js';
import { registerTemplate } from '../../src/orchestration/template-registry.js';
import { defineTemplate } from '../../src/templates/index.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { bodyOf, expectError, startApi } from './helpers.js';

const ns = 'api_search';
const keyed = defineTemplate({
  namespace: ns,
  name: 'keyed',
  version: '1.0.0',
  identityStrategy: 'caller_provided',
})
  .step('only', { handler: 'noop' })
  .build();
const other = defineTemplate({
  namespace: `${ns}_b`,
  name: 'keyed',
  version: '1.0.0',
  identityStrategy: 'caller_provided',
})
  .step('only', { handler: 'noop' })
  .build();

describe('task search', () => {
  let db: TestDatabase;
  let api: ApiServer;
  const tasks: { uuid: string; key: string; correlation: string }[] = [];

  beforeAll(async () => {
    db = await createTestDatabase();
    for (const t of [keyed, other]) await registerTemplate(db.pool, t);
    api = await startApi(db);
    const requests = Array.from({ length: 12 }, (_, i) => ({
      namespace: ns,
      name: 'keyed',
      context: { i },
      idempotencyKey: `order-${i}`,
      correlationId: randomUUID(),
    }));
    const created = await createTasks(db.pool, requests);
    created.forEach((c, i) => {
      if (!c.ok) throw c.error;
      tasks.push({
        uuid: c.task.taskUuid,
        key: requests[i]!.idempotencyKey,
        correlation: requests[i]!.correlationId,
      });
    });
    // The same key under another template is another task.
    const [again] = await createTasks(db.pool, [
      { namespace: `${ns}_b`, name: 'keyed', context: {}, idempotencyKey: 'order-3' },
    ]);
    if (!again?.ok) throw new Error('no task');
  });
  afterAll(async () => {
    await api?.close();
    await db?.drop();
  });

  async function search(query: Record<string, string>): Promise<TaskListBody> {
    const res = await api.app.inject({ url: '/v1/tasks', query });
    expect(res.statusCode, res.body).toBe(200);
    return bodyOf(res, taskListBody);
  }
  const uuids = (page: TaskListBody) => page.items.map((t) => t.task_uuid);

  it('finds a task by its uuid, whole or in any letter case', async () => {
    const t = tasks[4]!;
    expect(uuids(await search({ search: t.uuid }))).toEqual([t.uuid]);
    expect(uuids(await search({ search: t.uuid.toUpperCase() }))).toEqual([t.uuid]);
    expect(uuids(await search({ search: ` ${t.uuid} ` }))).toEqual([t.uuid]);
  });

  it('finds tasks by a uuid prefix of 4 or more hex digits, dashes ignored', async () => {
    const t = tasks[7]!;
    for (const prefix of [t.uuid.slice(0, 4), t.uuid.slice(0, 13), t.uuid.slice(0, 13).replaceAll('-', '')]) {
      const found = uuids(await search({ search: prefix, limit: '200' }));
      expect(found, prefix).toContain(t.uuid);
      const bare = prefix.replaceAll('-', '');
      expect(
        found.every((u) => u.replaceAll('-', '').startsWith(bare)),
        prefix,
      ).toBe(true);
    }
    // Three digits are not a uuid prefix (and no key or id is "abc").
    expect(uuids(await search({ search: t.uuid.slice(0, 3) }))).toEqual([]);
  });

  it('finds a task by its idempotency key, its identity hash or its correlation id', async () => {
    const t = tasks[3]!;
    const byKey = uuids(await search({ search: 'order-3' }));
    // Two templates have a task with key order-3; the namespace filter picks one.
    expect(byKey).toHaveLength(2);
    expect(byKey).toContain(t.uuid);
    expect(uuids(await search({ search: 'order-3', namespace: ns }))).toEqual([t.uuid]);
    const hash = await db.pool.query<{ identity_hash: string }>(
      'SELECT identity_hash FROM tasker.tasks WHERE task_uuid = $1',
      [t.uuid],
    );
    expect(uuids(await search({ search: hash.rows[0]!.identity_hash }))).toEqual([t.uuid]);
    expect(uuids(await search({ search: t.correlation }))).toEqual([t.uuid]);
    expect(uuids(await search({ search: 'order-999' }))).toEqual([]);
    expect(uuids(await search({ search: randomUUID() }))).toEqual([]);
  });

  it('combines with the other filters and pages with the cursor', async () => {
    // The longest uuid prefix all twelve tasks share (they were created within moments, so it is long).
    let prefix = tasks[0]!.uuid;
    for (const t of tasks) while (!t.uuid.startsWith(prefix)) prefix = prefix.slice(0, -1);
    if (prefix.replaceAll('-', '').length < 4) prefix = tasks[0]!.uuid.slice(0, 4);
    const expected = (
      await db.pool.query<{ task_uuid: string }>(
        `SELECT task_uuid FROM tasker.tasks WHERE namespace = $1 AND replace(task_uuid::text, '-', '') LIKE $2
         ORDER BY task_uuid DESC`,
        [ns, `${prefix.replaceAll('-', '')}%`],
      )
    ).rows.map((r) => r.task_uuid);
    expect(expected.length).toBeGreaterThanOrEqual(1);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: TaskListBody = await search({
        search: prefix,
        namespace: ns,
        state: 'steps_in_process',
        limit: '5',
        ...(cursor ? { cursor } : {}),
      });
      expect(page.items.length).toBeLessThanOrEqual(5);
      seen.push(...uuids(page));
      cursor = page.next_cursor;
    } while (cursor);
    expect(seen).toEqual(expected);
    // A filter the task does not pass hides it even when the search names it.
    expect(uuids(await search({ search: tasks[0]!.uuid, state: 'complete' }))).toEqual([]);
    expect(uuids(await search({ search: 'order-3', name: 'nope' }))).toEqual([]);
  });

  it('refuses an empty or overlong search with 400', async () => {
    expectError(await api.app.inject({ url: '/v1/tasks', query: { search: '' } }), 400, 'VALIDATION_FAILED');
    expectError(
      await api.app.inject({ url: '/v1/tasks', query: { search: '   ' } }),
      400,
      'VALIDATION_FAILED',
    );
    expectError(
      await api.app.inject({ url: '/v1/tasks', query: { search: 'x'.repeat(256) } }),
      400,
      'VALIDATION_FAILED',
    );
  });
});
