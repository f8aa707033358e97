import { randomBytes } from 'node:crypto';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NotificationListener } from '../../src/messaging/listener.js';
import { queueChannel } from '../../src/contract/names.js';
import { QueueClient } from '../../src/messaging/queue.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor(
  check: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await sleep(10);
  }
  throw new Error(`${what} did not happen within ${timeoutMs} ms`);
}

interface Received {
  channel: string;
  payload: string | undefined;
}

describe('NotificationListener against PostgreSQL', () => {
  let db: TestDatabase;
  let q: QueueClient;
  const listeners: NotificationListener[] = [];

  function newListener(applicationName: string): NotificationListener {
    const l = new NotificationListener({
      url: db.url,
      logger: pino({ level: 'silent' }),
      reconnectMinMs: 20,
      reconnectMaxMs: 200,
      applicationName,
    });
    listeners.push(l);
    return l;
  }

  beforeAll(async () => {
    db = await createTestDatabase();
    q = new QueueClient(db.pool);
  });
  afterAll(async () => {
    for (const l of listeners) await l.stop();
    await db?.drop();
  });

  it('a send notifies subscribers of the queue channel', async () => {
    await q.createQueue('listen_a');
    await q.createQueue('listen_other');
    const listener = newListener(`tasker-listener-test-${randomBytes(4).toString('hex')}`);
    const got: Received[] = [];
    await listener.subscribe(queueChannel('listen_a'), (channel, payload) => got.push({ channel, payload }));
    await listener.start();
    expect(listener.connected).toBe(true);
    expect(listener.connectCount).toBe(1);
    // Connecting wakes every subscriber once (payload undefined).
    expect(got).toEqual([{ channel: 'tasker_q_listen_a', payload: undefined }]);

    await q.send('listen_other', { ignored: true });
    await q.send('listen_a', { hello: 1 });
    await waitFor(() => got.length >= 2, 'notification');
    expect(got[1]).toEqual({ channel: 'tasker_q_listen_a', payload: '' });

    // A subscription added after start listens at once; unsubscribe stops delivery to that handler.
    const late: Received[] = [];
    const unsubscribe = await listener.subscribe(queueChannel('listen_other'), (channel, payload) =>
      late.push({ channel, payload }),
    );
    await q.sendBatch('listen_other', [{ a: 1 }, { b: 2 }]);
    await waitFor(() => late.length >= 1, 'notification on a channel subscribed after start');
    expect(late[0]).toEqual({ channel: 'tasker_q_listen_other', payload: '' });
    unsubscribe();
    const before = late.length;
    await q.send('listen_other', { c: 3 });
    await db.pool.query(`SELECT pg_notify($1, 'marker')`, [queueChannel('listen_a')]);
    await waitFor(() => got.some((r) => r.payload === 'marker'), 'marker');
    expect(late.length).toBe(before);
    // Only one notification on listen_a so far besides the marker and the connect wake-up.
    expect(got.filter((r) => r.payload === '')).toHaveLength(1);
  });

  it('a notification sent inside a rolled-back transaction is never delivered', async () => {
    await q.createQueue('listen_rb');
    const channel = queueChannel('listen_rb');
    const listener = newListener(`tasker-listener-test-${randomBytes(4).toString('hex')}`);
    const got: Received[] = [];
    await listener.subscribe(channel, (c, payload) => got.push({ channel: c, payload }));
    await listener.start();
    got.length = 0; // drop the connect wake-up

    const client = await db.pool.connect();
    try {
      await client.query('BEGIN');
      await client.query(`SELECT tasker.send('listen_rb', '{"rolled":"back"}'::jsonb)`);
      await client.query('ROLLBACK');
    } finally {
      client.release();
    }
    // Notifications reach a listener in commit order: once the marker sent after the rollback arrives, anything
    // the rolled-back transaction could have sent would already have arrived.
    await db.pool.query(`SELECT pg_notify($1, 'marker')`, [channel]);
    await waitFor(() => got.some((r) => r.payload === 'marker'), 'marker');
    expect(got).toEqual([{ channel, payload: 'marker' }]);
    const rows = await db.pool.query(`SELECT 1 FROM tasker.queue_messages WHERE queue_name = 'listen_rb'`);
    expect(rows.rowCount).toBe(0);

    // The same send committed is delivered.
    await q.send('listen_rb', { committed: true });
    await waitFor(() => got.some((r) => r.payload === ''), 'committed notification');
  });

  it('reconnects after its backend is terminated, wakes subscribers, and keeps delivering', async () => {
    await q.createQueue('listen_rc');
    const channel = queueChannel('listen_rc');
    const appName = `tasker-listener-test-${randomBytes(4).toString('hex')}`;
    const listener = newListener(appName);
    const got: Received[] = [];
    await listener.subscribe(channel, (c, payload) => got.push({ channel: c, payload }));
    await listener.start();
    expect(listener.connectCount).toBe(1);
    await q.send('listen_rc', { before: true });
    await waitFor(() => got.some((r) => r.payload === ''), 'notification before the reconnect');
    got.length = 0;

    const pidsBefore = await db.pool.query<{ pid: number }>(
      'SELECT pid FROM pg_stat_activity WHERE application_name = $1',
      [appName],
    );
    expect(pidsBefore.rows).toHaveLength(1);
    const killed = await db.pool.query<{ ok: boolean }>(
      'SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity WHERE application_name = $1',
      [appName],
    );
    expect(killed.rows).toEqual([{ ok: true }]);

    // (a) it reconnects by itself
    await waitFor(() => listener.connectCount >= 2, 'reconnect');
    expect(listener.connectCount).toBe(2);
    expect(listener.connected).toBe(true);
    // (b) the subscriber is woken after the reconnect (anything sent meanwhile may have been missed)
    await waitFor(() => got.some((r) => r.payload === undefined), 'wake-up after reconnect');
    expect(got.filter((r) => r.payload === undefined)).toEqual([{ channel, payload: undefined }]);
    // The new connection is a different backend.
    const pidsAfter = await db.pool.query<{ pid: number }>(
      'SELECT pid FROM pg_stat_activity WHERE application_name = $1',
      [appName],
    );
    expect(pidsAfter.rows).toHaveLength(1);
    expect(pidsAfter.rows[0]!.pid).not.toBe(pidsBefore.rows[0]!.pid);

    // (c) notifications sent after the reconnect are delivered
    got.length = 0;
    await q.send('listen_rc', { after: true });
    await waitFor(() => got.some((r) => r.payload === ''), 'notification after the reconnect');
    expect(got).toEqual([{ channel, payload: '' }]);

    // Stopping closes the connection and does not reconnect.
    await listener.stop();
    expect(listener.connected).toBe(false);
    await waitFor(async () => {
      const r = await db.pool.query('SELECT 1 FROM pg_stat_activity WHERE application_name = $1', [appName]);
      return r.rowCount === 0;
    }, 'listener backend to go away');
    expect(listener.connectCount).toBe(2);
  });
});
