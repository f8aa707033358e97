import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../support/db.js';

/** The `tasker_task_finished` notification of migrations/0018, seen by a plain LISTEN connection. */
describe('tasker_task_finished', () => {
  let db: TestDatabase;
  let listener: pg.Client;
  const payloads: string[] = [];

  beforeAll(async () => {
    db = await createTestDatabase();
    listener = new pg.Client({ connectionString: db.url });
    await listener.connect();
    listener.on('notification', (m) => payloads.push(m.payload ?? ''));
    await listener.query('LISTEN tasker_task_finished');
  });
  afterAll(async () => {
    await listener?.end();
    await db?.drop();
  });

  async function settle(): Promise<void> {
    // A notification sent after this round trip's commit reaches the listener before its own reply would.
    await listener.query('SELECT 1');
  }

  it('chunks many tasks under the 8000-byte payload limit and names each task once', async () => {
    payloads.length = 0;
    const tasks = Array.from({ length: 300 }, () => randomUUID());
    await db.pool.query(`SELECT tasker.notify_task_finished($1::uuid[], 'resolved_manually')`, [
      [...tasks, ...tasks.slice(0, 10)],
    ]);
    await settle();
    expect(payloads.length).toBeGreaterThan(1);
    for (const p of payloads) expect(Buffer.byteLength(p)).toBeLessThan(8000);
    const items = payloads.flatMap((p) => p.split(','));
    expect(items).toHaveLength(300);
    expect(new Set(items)).toEqual(new Set(tasks.map((t) => `${t}:resolved_manually`)));
  });

  it('move_tasks notifies when tasks reach a finished state, and only then', async () => {
    payloads.length = 0;
    const [a, b] = [randomUUID(), randomUUID()];
    const move = (to: string[]): Promise<unknown> =>
      db.pool.query('SELECT tasker.move_tasks($1::uuid[], $2::text[], $3::text[], $4)', [
        [a, b],
        to,
        to.map(() => 'Test'),
        'test',
      ]);
    await move(['evaluating_results', 'waiting_for_retry']);
    await move(['steps_in_process']);
    await settle();
    expect(payloads).toEqual([]);
    for (const state of ['complete', 'error', 'cancelled', 'resolved_manually']) {
      await move(['evaluating_results', state]);
    }
    await settle();
    expect(payloads.map((p) => p.split(',').sort())).toEqual(
      ['complete', 'error', 'cancelled', 'resolved_manually'].map((s) => [`${a}:${s}`, `${b}:${s}`].sort()),
    );
  });

  it('is sent at commit: a rolled-back finish is never announced', async () => {
    payloads.length = 0;
    const client = await db.pool.connect();
    try {
      await client.query('BEGIN');
      await client.query(`SELECT tasker.notify_task_finished(ARRAY[$1::uuid], 'complete')`, [randomUUID()]);
      await client.query('ROLLBACK');
    } finally {
      client.release();
    }
    await settle();
    expect(payloads).toEqual([]);
  });
});
