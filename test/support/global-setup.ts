import pg from 'pg';
import type { TestProject } from 'vitest/node';
import { migrate } from '../../src/db/migrate.js';
import { createPool } from '../../src/db/pool.js';
import { startEmbeddedPostgres, type EmbeddedServer } from '../../src/testing/embedded-postgres.js';
import { databaseUrl } from './urls.js';

declare module 'vitest' {
  export interface ProvidedContext {
    adminUrl: string;
    templateDb: string;
    runId: string;
  }
}

/**
 * Uses DATABASE_URL when set, else starts an embedded PostgreSQL. Migrates one template database for this run;
 * every test file then clones its own database from it, so runs and files never collide.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  let server: EmbeddedServer | undefined;
  let adminUrl = process.env.DATABASE_URL;
  if (!adminUrl) {
    server = await startEmbeddedPostgres();
    adminUrl = server.url;
  }
  const runId = `${Date.now().toString(36)}${process.pid.toString(36)}`;
  const templateDb = `tasker_test_${runId}_tpl`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${templateDb}`);
  await admin.end();

  const pool = createPool({
    url: databaseUrl(adminUrl, templateDb),
    maxConnections: 2,
    idleTimeoutMs: 1000,
    acquireTimeoutMs: 10000,
    statementTimeoutMs: 0,
    applicationName: 'tasker-test-setup',
  });
  await migrate(pool);
  await pool.end();

  project.provide('adminUrl', adminUrl);
  project.provide('templateDb', templateDb);
  project.provide('runId', runId);

  return async () => {
    const c = new pg.Client({ connectionString: adminUrl });
    await c.connect();
    const dbs = await c.query<{ datname: string }>(`SELECT datname FROM pg_database WHERE datname LIKE $1`, [
      `tasker_test_${runId}_%`,
    ]);
    for (const { datname } of dbs.rows) {
      await c.query(`DROP DATABASE IF EXISTS ${datname} WITH (FORCE)`).catch(() => {});
    }
    await c.end();
    await server?.stop();
  };
}
