/**
 * Writes `sql/tables/<table>.sql`, the current shape of every table, from a database migrated from scratch:
 *
 *     DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres npm run schema:dump
 *
 * It creates a scratch database on that server, migrates it, dumps it and drops it. A test fails when the
 * committed files differ from what this writes (test/integration/sql-layout.test.ts).
 */
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { migrate } from './migrate.js';
import { createPool } from './pool.js';
import { dumpTables } from './schema-dump.js';

/** Where the generated table files live. */
export const TABLES_DIR = fileURLToPath(new URL('../../sql/tables/', import.meta.url));

const serverUrl = process.env.DATABASE_URL;
if (!serverUrl) {
  process.stderr.write('set DATABASE_URL to a PostgreSQL server where a scratch database may be created\n');
  process.exit(2);
}
const name = `tasker_schema_dump_${process.pid}`;
const admin = new pg.Client({ connectionString: serverUrl });
await admin.connect();
await admin.query(`CREATE DATABASE ${name}`);
const url = new URL(serverUrl);
url.pathname = `/${name}`;
const pool = createPool({
  url: url.toString(),
  maxConnections: 1,
  idleTimeoutMs: 1000,
  acquireTimeoutMs: 10_000,
  statementTimeoutMs: 0,
  applicationName: 'tasker-schema-dump',
});
try {
  await migrate(pool);
  const tables = await dumpTables(pool);
  await mkdir(TABLES_DIR, { recursive: true });
  for (const f of await readdir(TABLES_DIR)) if (f.endsWith('.sql')) await rm(`${TABLES_DIR}${f}`);
  for (const t of tables) await writeFile(`${TABLES_DIR}${t.name}.sql`, t.sql);
  process.stdout.write(`wrote ${tables.length} table files to sql/tables/\n`);
} finally {
  await pool.end();
  await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await admin.end();
}
