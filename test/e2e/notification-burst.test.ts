import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { queueChannel, workerQueueName } from '../../src/contract/names.js';
import { defineTemplate } from '../../src/templates/index.js';
import { defineHandler } from '../../src/worker/handler.js';
import { createWorker, type Worker } from '../../src/worker/worker.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { testConfig } from '../support/engine.js';

const ns = 'burst_e2e';
const template = defineTemplate({ namespace: ns, name: 'one', version: '1.0.0' })
  .step('s', { handler: 'h' })
  .build();

describe('a burst of 10,000 notifications', () => {
  let db: TestDatabase;
  let worker: Worker;

  beforeAll(async () => {
    db = await createTestDatabase();
    worker = createWorker({
      config: testConfig(db.url),
      templates: [template],
      handlers: [defineHandler('h', () => ({}))],
    });
    await worker.start();
  });
  afterAll(async () => {
    await worker?.stop();
    await db?.drop();
  });

  it('stays within the wake-up channel bound: wake-ups coalesce, none queue without limit', async () => {
    const wakeups = worker.channels.find((c) => c.stats().name === `worker.wakeups.${ns}`)!;
    const capacity = wakeups.stats().capacity;
    const before = wakeups.stats();
    // 10,000 distinct notifications committed at once (identical ones would be merged by PostgreSQL).
    await db.pool.query(`SELECT pg_notify($1, g::text) FROM generate_series(1, 10000) AS g`, [
      queueChannel(workerQueueName(ns)),
    ]);
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline) {
      const s = wakeups.stats();
      if (s.sent + s.dropped - before.sent - before.dropped >= 10_000) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    const after = wakeups.stats();
    expect(after.sent + after.dropped - before.sent - before.dropped).toBeGreaterThanOrEqual(10_000);
    expect(after.highWaterMark).toBeLessThanOrEqual(capacity);
    expect(after.depth).toBeLessThanOrEqual(capacity);
    // The burst was absorbed by dropping redundant wake-ups, not by buffering them.
    expect(after.dropped - before.dropped).toBeGreaterThan(0);
  });
});
