import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { inject } from 'vitest';
import { createPool } from '../../src/db/pool.js';
import { databaseUrl } from './urls.js';

/** A database of its own for one test file, cloned from the migrated template. */
export interface TestDatabase {
  url: string;
  name: string;
  pool: pg.Pool;
  drop(): Promise<void>;
}

export async function createTestDatabase(): Promise<TestDatabase> {
  return createDatabase(inject('templateDb'));
}

/** An empty database of its own for one test (no tasker schema), e.g. to migrate it from scratch. */
export async function createEmptyDatabase(): Promise<TestDatabase> {
  return createDatabase(undefined);
}

async function createDatabase(template: string | undefined): Promise<TestDatabase> {
  const adminUrl = inject('adminUrl');
  const name = `tasker_test_${inject('runId')}_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  // Concurrent clones of one template can collide; retry briefly.
  for (let i = 0; ; i++) {
    try {
      await admin.query(`CREATE DATABASE ${name}${template ? ` TEMPLATE ${template}` : ''}`);
      break;
    } catch (e) {
      if (i >= 20) throw e;
      await new Promise((r) => setTimeout(r, 100 + i * 50));
    }
  }
  await admin.end();
  const url = databaseUrl(adminUrl, name);
  const pool = createPool({
    url,
    maxConnections: 10,
    idleTimeoutMs: 1000,
    acquireTimeoutMs: 10000,
    statementTimeoutMs: 60000,
    applicationName: 'tasker-test',
  });
  return {
    url,
    name,
    pool,
    async drop() {
      await pool.end();
      const c = new pg.Client({ connectionString: adminUrl });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}
