import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import { ErrorCode, TaskerError } from '../../src/errors.js';
import { QueueClient, type QueueMessage } from '../../src/messaging/queue.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `probe` until it returns a value or the deadline passes. */
async function eventually<T>(
  probe: () => Promise<T | undefined>,
  what: string,
  timeoutMs = 10_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const v = await probe();
    if (v !== undefined) return v;
    await sleep(20);
  }
  throw new Error(`${what} did not happen within ${timeoutMs} ms`);
}

describe('QueueClient against PostgreSQL', () => {
  let db: TestDatabase;
  let q: QueueClient;
  let n = 0;
  /** A fresh queue per test, so tests never see each other's messages. */
  async function freshQueue(): Promise<string> {
    const name = `q_test_${++n}`;
    await q.createQueue(name);
    return name;
  }

  beforeAll(async () => {
    db = await createTestDatabase();
    q = new QueueClient(db.pool);
  });
  afterAll(async () => {
    await db?.drop();
  });

  it('createQueue is idempotent', async () => {
    await q.createQueue('q_idem');
    await q.createQueue('q_idem');
    const res = await db.pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM tasker.queues WHERE queue_name = 'q_idem'`,
    );
    expect(res.rows[0]!.n).toBe(1);
    const id = await q.send('q_idem', { ok: true });
    expect(id).toMatch(/^\d+$/);
  });

  it('send and sendBatch return the ids of the stored messages, in order', async () => {
    const queue = await freshQueue();
    const one = await q.send(queue, { i: 0 });
    const batch = await q.sendBatch(queue, [{ i: 1 }, { i: 2 }, { i: 3 }]);
    expect(typeof one).toBe('string');
    expect(batch).toHaveLength(3);
    expect(new Set([one, ...batch]).size).toBe(4);
    const res = await db.pool.query<{ msg_id: string; message: { i: number } }>(
      'SELECT msg_id, message FROM tasker.queue_messages WHERE queue_name = $1 ORDER BY msg_id',
      [queue],
    );
    expect(res.rows.map((r) => r.msg_id)).toEqual([one, ...batch]);
    expect(res.rows.map((r) => r.message.i)).toEqual([0, 1, 2, 3]);
    expect(await q.sendBatch(queue, [])).toEqual([]);
  });

  it('read hides a message for the visibility timeout and counts reads', async () => {
    const queue = await freshQueue();
    const id = await q.send(queue, { hello: 'world' });
    const first = await q.read<{ hello: string }>(queue, 30, 10);
    expect(first).toHaveLength(1);
    expect(first[0]).toMatchObject({
      msgId: id,
      queueName: queue,
      readCount: 1,
      message: { hello: 'world' },
    });
    // Hidden for the 30 s requested (measured on the database clock).
    expect(first[0]!.visibleAt.getTime() - first[0]!.enqueuedAt.getTime()).toBeGreaterThanOrEqual(30_000);
    expect(await q.read(queue, 30, 10)).toEqual([]);
  });

  it('redelivers a message after its visibility timeout expires, with read_ct incremented', async () => {
    const queue = await freshQueue();
    const id = await q.send(queue, { redeliver: true });
    const [first] = await q.read(queue, 0.2, 1);
    expect(first?.msgId).toBe(id);
    expect(first?.readCount).toBe(1);
    const again = await eventually(async () => {
      const got = await q.read(queue, 30, 1);
      return got.length ? got : undefined;
    }, 'redelivery');
    expect(again).toHaveLength(1);
    expect(again[0]!.msgId).toBe(id);
    expect(again[0]!.readCount).toBe(2);
  });

  it('setVisibilityTimeout(0) makes a message visible at once; a large value keeps it hidden', async () => {
    const queue = await freshQueue();
    const id = await q.send(queue, { vt: 1 });
    await q.read(queue, 300, 1);
    expect(await q.read(queue, 300, 1)).toEqual([]);

    expect(await q.setVisibilityTimeout(queue, [id], 0)).toEqual([id]);
    const back = await q.read(queue, 0.2, 1);
    expect(back.map((m) => m.msgId)).toEqual([id]);
    expect(back[0]!.readCount).toBe(2);

    // Extend the short lease before it lapses: the message stays hidden well past the original 0.2 s.
    expect(await q.setVisibilityTimeout(queue, [id], 3600)).toEqual([id]);
    const row = await db.pool.query<{ hidden_for: number }>(
      'SELECT extract(epoch FROM vt - now())::float8 AS hidden_for FROM tasker.queue_messages WHERE msg_id = $1',
      [id],
    );
    expect(row.rows[0]!.hidden_for).toBeGreaterThan(3000);
    await sleep(400);
    expect(await q.read(queue, 30, 1)).toEqual([]);

    // Unknown ids are not reported.
    expect(await q.setVisibilityTimeout(queue, ['999999999'], 0)).toEqual([]);
  });

  it('delete returns only ids that existed; deleting twice is harmless', async () => {
    const queue = await freshQueue();
    const [a, b] = await q.sendBatch(queue, [{ a: 1 }, { b: 2 }]);
    const deleted = await q.delete(queue, [a!, '999999999']);
    expect(deleted).toEqual([a]);
    expect(await q.delete(queue, [a!])).toEqual([]);
    const left = await q.read(queue, 30, 10);
    expect(left.map((m) => m.msgId)).toEqual([b]);
  });

  it('delete and archive only touch messages of the named queue', async () => {
    const queue = await freshQueue();
    const other = await freshQueue();
    const id = await q.send(other, { x: 1 });
    expect(await q.delete(queue, [id])).toEqual([]);
    expect(await q.archive(queue, [id])).toEqual([]);
    expect((await q.read(other, 30, 10)).map((m) => m.msgId)).toEqual([id]);
  });

  it('archive moves the row to tasker.queue_messages_archive', async () => {
    const queue = await freshQueue();
    const id = await q.send(queue, { keep: 'me' });
    await q.read(queue, 30, 1);
    expect(await q.archive(queue, [id])).toEqual([id]);
    const live = await db.pool.query('SELECT 1 FROM tasker.queue_messages WHERE msg_id = $1', [id]);
    expect(live.rowCount).toBe(0);
    const archived = await db.pool.query(
      'SELECT msg_id, queue_name, read_ct, message FROM tasker.queue_messages_archive WHERE msg_id = $1',
      [id],
    );
    expect(archived.rows).toEqual([{ msg_id: id, queue_name: queue, read_ct: 1, message: { keep: 'me' } }]);
    expect(await q.archive(queue, [id])).toEqual([]);
  });

  it('a delayed message is not readable before its delay, and is readable after it', async () => {
    const queue = await freshQueue();
    const late = await q.send(queue, { late: true }, 3_600_000);
    const [soon] = await q.sendBatch(queue, [{ soon: true }], 500);
    const now = await q.send(queue, { now: true });
    const read: string[] = (await q.read(queue, 30, 10)).map((m) => m.msgId);
    expect(read).toContain(now);
    expect(read).not.toContain(late);
    await eventually(async () => {
      read.push(...(await q.read(queue, 30, 10)).map((m) => m.msgId));
      return read.includes(soon!) ? true : undefined;
    }, 'delayed batch message');
    expect(read.sort()).toEqual([now, soon].sort());
    // The delayed message was handed out no earlier than its delay (database clock: read time = vt - 30 s).
    const res = await db.pool.query<{ waited: number }>(
      `SELECT extract(epoch FROM (vt - interval '30 seconds') - enqueued_at)::float8 AS waited
       FROM tasker.queue_messages WHERE msg_id = $1`,
      [soon],
    );
    expect(res.rows[0]!.waited).toBeGreaterThanOrEqual(0.5);
    expect(await q.read(queue, 30, 10)).toEqual([]);
    const row = await db.pool.query<{ delay: number }>(
      'SELECT extract(epoch FROM vt - enqueued_at)::float8 AS delay FROM tasker.queue_messages WHERE msg_id = $1',
      [late],
    );
    expect(row.rows[0]!.delay).toBeCloseTo(3600, 3);
  });

  it('concurrent readers on separate connections never receive the same message twice and together receive all', async () => {
    const queue = await freshQueue();
    const ids = await q.sendBatch(
      queue,
      Array.from({ length: 200 }, (_, i) => ({ i })),
    );
    expect(ids).toHaveLength(200);
    const clients: pg.PoolClient[] = [];
    for (let i = 0; i < 10; i++) clients.push(await db.pool.connect());
    try {
      const seen: QueueMessage[][] = await Promise.all(
        clients.map(async (c) => {
          const reader = new QueueClient(c);
          const mine: QueueMessage[] = [];
          for (;;) {
            const batch = await reader.read(queue, 300, 7);
            if (batch.length === 0) break;
            mine.push(...batch);
          }
          return mine;
        }),
      );
      const all = seen.flat().map((m) => m.msgId);
      expect(all).toHaveLength(200);
      expect(new Set(all).size).toBe(200);
      expect(new Set(all)).toEqual(new Set(ids));
      expect(seen.flat().every((m) => m.readCount === 1)).toBe(true);
    } finally {
      for (const c of clients) c.release();
    }
  });

  it('metrics report length, visible length and the age of the oldest message', async () => {
    const queue = await freshQueue();
    expect(await q.metrics(queue)).toEqual([
      { queueName: queue, length: 0, visibleLength: 0, oldestMessageAgeSeconds: 0 },
    ]);
    await q.sendBatch(queue, [{ a: 1 }, { b: 2 }, { c: 3 }]);
    await q.send(queue, { d: 4 }, 3_600_000);
    await q.read(queue, 300, 1);
    await sleep(50);
    const [m] = await q.metrics(queue);
    expect(m).toMatchObject({ queueName: queue, length: 4, visibleLength: 2 });
    expect(m!.oldestMessageAgeSeconds).toBeGreaterThan(0);
    expect(m!.oldestMessageAgeSeconds).toBeLessThan(3600);

    const every = await q.metrics();
    expect(every.map((x) => x.queueName)).toContain(queue);
    expect(every.map((x) => x.queueName)).toContain('orchestration_step_results');
  });

  it('sending to an unknown queue fails with a typed QUEUE_NOT_FOUND error and stores nothing', async () => {
    const err = await q.send('no_such_queue', { x: 1 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TaskerError);
    expect((err as TaskerError).code).toBe(ErrorCode.QueueNotFound);
    expect((err as Error).message).toContain('no_such_queue');
    const batchErr = await q.sendBatch('no_such_queue', [{ x: 1 }]).catch((e: unknown) => e);
    expect(batchErr).toBeInstanceOf(TaskerError);
    expect((batchErr as TaskerError).code).toBe(ErrorCode.QueueNotFound);
    const delayedErr = await q.send('no_such_queue', { x: 1 }, 1000).catch((e: unknown) => e);
    expect((delayedErr as TaskerError).code).toBe(ErrorCode.QueueNotFound);
    const rows = await db.pool.query(
      `SELECT 1 FROM tasker.queue_messages WHERE queue_name = 'no_such_queue'`,
    );
    expect(rows.rowCount).toBe(0);
  });

  it('an invalid queue name fails at createQueue with a clear error', async () => {
    for (const bad of ['1starts_with_digit', 'has-dash', 'has space', '', 'x'.repeat(48), 'drop;table']) {
      await expect(q.createQueue(bad)).rejects.toThrow(/invalid queue name/);
    }
    // The longest legal name fits.
    const longest = 'y'.repeat(47);
    await q.createQueue(longest);
    expect((await q.metrics(longest)).map((x) => x.queueName)).toEqual([longest]);
    const res = await db.pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM tasker.queues WHERE queue_name = 'has-dash'`,
    );
    expect(res.rows[0]!.n).toBe(0);
  });
});
