import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isConnectionError, isStatementTimeout, mapDbError } from '../../src/db/errors.js';
import { createPool } from '../../src/db/pool.js';
import { ErrorCode, TaskerError } from '../../src/errors.js';
import { silentLogger } from '../../src/observability/logger.js';
import { DatabaseBreaker } from '../../src/resilience/breaker.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';

/**
 * A statement canceled by `statement_timeout` (SQLSTATE 57014) is an answer from a reachable server: it becomes
 * DATABASE_TIMEOUT and never counts toward the circuit breaker, while connection failures still do. Every error
 * here comes from a real PostgreSQL server.
 */
const SETTINGS = {
  enabled: true,
  volume_threshold: 2,
  error_threshold_percentage: 50,
  reset_timeout_ms: 60_000,
  rolling_window_ms: 60_000,
};

async function failure(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => {
      throw new Error('expected the statement to fail');
    },
    (e: unknown) => e,
  );
}

describe('statement timeouts', () => {
  let db: TestDatabase;
  let tight: pg.Pool;
  const breakers: DatabaseBreaker[] = [];

  beforeAll(async () => {
    db = await createTestDatabase();
    // pg_sleep(5) against 50 ms: the statement is canceled every time, however slow the machine.
    tight = createPool({
      url: db.url,
      maxConnections: 2,
      idleTimeoutMs: 1000,
      acquireTimeoutMs: 10_000,
      statementTimeoutMs: 50,
      applicationName: 'tasker-test-statement-timeout',
    });
  });
  afterAll(async () => {
    for (const b of breakers) b.shutdown();
    await tight?.end();
    await db?.drop();
  });

  function breaker(name: string): DatabaseBreaker {
    const b = new DatabaseBreaker(name, SETTINGS, silentLogger());
    breakers.push(b);
    return b;
  }

  it('is a DATABASE_TIMEOUT, not a connection error', async () => {
    const e = await failure(tight.query('SELECT pg_sleep(5)'));
    expect((e as { code?: string }).code).toBe('57014');
    expect(isStatementTimeout(e)).toBe(true);
    expect(isConnectionError(e)).toBe(false);
    const mapped = mapDbError(e);
    expect(mapped).toBeInstanceOf(TaskerError);
    expect((mapped as TaskerError).code).toBe(ErrorCode.DatabaseTimeout);
    expect(mapped.message).toMatch(/statement timeout/);
    expect(mapped.message).toMatch(/statement_timeout_ms/);
    expect((mapped as TaskerError).details).toEqual({ sqlstate: '57014' });
  });

  it('does not open the circuit breaker however often it happens', async () => {
    const b = breaker('timeouts');
    const guarded = b.guard(tight);
    for (let i = 0; i < 8; i++) {
      const e = await failure(guarded.query('SELECT pg_sleep(5)'));
      expect(isStatementTimeout(e)).toBe(true);
    }
    expect(b.state).toBe('closed');
    expect(b.stats()).toMatchObject({ timesOpened: 0, failures: 0, rejects: 0 });
    // The same connections still answer.
    const { rows } = await guarded.query<{ one: number }>('SELECT 1 AS one');
    expect(rows[0]!.one).toBe(1);
  });

  it('while a connection failure does open it, with the same settings', async () => {
    const b = breaker('refused');
    // Nothing listens on port 1: every call fails to connect.
    const dead = createPool({
      url: 'postgresql://postgres@127.0.0.1:1/postgres',
      maxConnections: 1,
      idleTimeoutMs: 1000,
      acquireTimeoutMs: 2000,
      statementTimeoutMs: 50,
      applicationName: 'tasker-test-refused',
    });
    try {
      const guarded = b.guard(dead);
      for (let i = 0; i < 3; i++) {
        const e = await failure(guarded.query('SELECT 1'));
        expect(isConnectionError(e) || (e as TaskerError).code === ErrorCode.CircuitOpen).toBe(true);
      }
      expect(b.state).toBe('open');
    } finally {
      await dead.end();
    }
  });

  it('an administrator terminating the connection (57P01) stays a connection error', async () => {
    const victim = new pg.Client({ connectionString: db.url });
    victim.on('error', () => {}); // the terminated connection reports its end here too
    await victim.connect();
    try {
      const { rows } = await victim.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
      const sleeping = failure(victim.query('SELECT pg_sleep(30)'));
      // Wait until the sleep is running, then terminate its backend from another connection.
      for (let i = 0; i < 200; i++) {
        const active = await db.pool.query(
          `SELECT 1 FROM pg_stat_activity WHERE pid = $1 AND query LIKE 'SELECT pg_sleep%' AND state = 'active'`,
          [rows[0]!.pid],
        );
        if (active.rowCount) break;
        await new Promise((r) => setTimeout(r, 25));
      }
      await db.pool.query('SELECT pg_terminate_backend($1)', [rows[0]!.pid]);
      const e = await sleeping;
      expect((e as { code?: string }).code).toBe('57P01');
      expect(isStatementTimeout(e)).toBe(false);
      expect(isConnectionError(e)).toBe(true);
      expect((mapDbError(e) as TaskerError).code).toBe(ErrorCode.Database);
    } finally {
      await victim.end().catch(() => {});
    }
  });
});
