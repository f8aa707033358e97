import pg from 'pg';
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

  it('does not warn for acquisitions that open a new connection (start-up), only for waits on a full pool', async () => {
    const lines: string[] = [];
    const logger = pino({ level: 'warn' }, { write: (l: string) => void lines.push(l) });
    // Every new connection takes at least 150 ms to become usable, like a distant or TLS-heavy database.
    const pool = new pg.Pool({
      connectionString: db.url,
      max: 2,
      // pg-pool awaits the promise before handing the connection out; its types only say void.
      // eslint-disable-next-line @typescript-eslint/no-misused-promises
      onConnect: () => new Promise<void>((r) => setTimeout(r, 150)),
    });
    try {
      instrumentPool(pool, { slowAcquireWarnMs: 100, logger, name: 'startup' });
      // Two concurrent first queries: each opens its own connection, slowly, with room left in the pool.
      await Promise.all([pool.query('SELECT 1'), pool.query('SELECT 1')]);
      const afterStartup = poolAcquireStats(pool)!;
      expect(afterStartup.count).toBe(2);
      expect(afterStartup.p50Ms).toBeGreaterThanOrEqual(100);
      expect(afterStartup.slow).toBe(0);
      expect(lines.filter((l) => l.includes('slow connection'))).toEqual([]);

      // Now the pool is full: a third caller has to wait for a release, which is what the warning is for.
      const a = await pool.connect();
      const b = await pool.connect();
      const waiting = pool.query('SELECT 2 AS v');
      await new Promise((r) => setTimeout(r, 200));
      a.release();
      b.release();
      expect((await waiting).rows[0]).toEqual({ v: 2 });
      expect(poolAcquireStats(pool)!.slow).toBe(1);
      expect(lines.filter((l) => l.includes('slow connection'))).toHaveLength(1);
    } finally {
      await pool.end();
    }
  });
});
