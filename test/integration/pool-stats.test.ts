import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPool } from '../../src/db/pool.js';
import { instrumentPool, poolAcquireStats } from '../../src/db/pool-stats.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';

describe('pool acquire statistics', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await db?.drop();
  });

  it('records every acquisition and warns about a slow one', async () => {
    const lines: string[] = [];
    const logger = pino({ level: 'warn' }, { write: (l: string) => void lines.push(l) });
    const pool = createPool({
      url: db.url,
      maxConnections: 1,
      idleTimeoutMs: 1000,
      acquireTimeoutMs: 5000,
      statementTimeoutMs: 0,
      applicationName: 'pool-stats-test',
    });
    try {
      instrumentPool(pool, { slowAcquireWarnMs: 100, logger, name: 'test' });
      for (let i = 0; i < 5; i++) await pool.query('SELECT 1');
      const held = await pool.connect(); // the only connection
      const waiting = pool.query('SELECT 2 AS v'); // must wait for it
      await new Promise((r) => setTimeout(r, 200));
      held.release();
      expect((await waiting).rows[0]).toEqual({ v: 2 });

      const stats = poolAcquireStats(pool)!;
      expect(stats.count).toBe(7); // 5 queries, the explicit connect, the waiting query
      expect(stats.slow).toBe(1);
      expect(stats.p99Ms).toBeGreaterThanOrEqual(100);
      expect(stats.p50Ms).toBeLessThan(stats.p99Ms);
      const warning = lines
        .map((l) => JSON.parse(l) as { msg: string; pool: string })
        .find((l) => l.msg.includes('slow connection'));
      expect(warning).toMatchObject({ pool: 'test' });
    } finally {
      await pool.end();
    }
  });
});
