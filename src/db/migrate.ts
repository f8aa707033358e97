import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type pg from 'pg';
import type { Logger } from 'pino';
import { ErrorCode, TaskerError } from '../errors.js';

/** Directory holding `NNNN_name.sql` files. */
export const MIGRATIONS_DIR = fileURLToPath(new URL('../../migrations/', import.meta.url));

/** Arbitrary but fixed: every Tasker process takes this advisory lock while migrating. */
const MIGRATION_LOCK_KEY = 7_262_537_001;

export interface Migration {
  version: number;
  name: string;
  sql: string;
  checksum: string;
}

export interface MigrationResult {
  applied: Migration[];
  alreadyApplied: number;
}

/** Reads the migration files in version order; names must be `NNNN_snake_name.sql`. */
export async function loadMigrations(dir: string = MIGRATIONS_DIR): Promise<Migration[]> {
  const files = (await readdir(dir)).filter((f) => f.endsWith('.sql')).sort();
  const migrations: Migration[] = [];
  const seen = new Map<number, string>();
  for (const file of files) {
    const match = /^(\d{4})_([a-z0-9_]+)\.sql$/.exec(file);
    if (!match) {
      throw new TaskerError(ErrorCode.MigrationFailed, `migration file '${file}' is not named NNNN_name.sql`);
    }
    const version = Number(match[1]);
    const clash = seen.get(version);
    if (clash) {
      throw new TaskerError(
        ErrorCode.MigrationFailed,
        `duplicate migration version ${version}: ${clash} and ${file}`,
      );
    }
    seen.set(version, file);
    const sql = await readFile(`${dir}/${file}`, 'utf8');
    migrations.push({
      version,
      name: match[2] ?? file,
      sql,
      checksum: createHash('sha256').update(sql).digest('hex'),
    });
  }
  return migrations;
}

async function inTransaction<T>(client: pg.PoolClient, fn: () => Promise<T>): Promise<T> {
  await client.query('BEGIN');
  try {
    await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK_KEY]);
    const result = await fn();
    await client.query('COMMIT');
    return result;
  } catch (e) {
    await client.query('ROLLBACK').catch(() => {});
    throw e;
  }
}

/**
 * Applies pending migrations, each in its own transaction under a transaction-scoped advisory lock, so that any
 * number of processes may migrate one database at once: the first applies, the others wait and find it done.
 * Refuses to run against a schema newer than this code, and reports an edited released migration.
 */
export async function migrate(
  pool: pg.Pool,
  options: { logger?: Logger; dir?: string } = {},
): Promise<MigrationResult> {
  const migrations = await loadMigrations(options.dir);
  const client = await pool.connect();
  try {
    const applied = await inTransaction(client, async () => {
      await client.query('CREATE SCHEMA IF NOT EXISTS tasker');
      await client.query(`CREATE TABLE IF NOT EXISTS tasker.schema_migrations (
        version int PRIMARY KEY, name text NOT NULL, checksum text NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now())`);
      const res = await client.query<{ version: number; checksum: string }>(
        'SELECT version, checksum FROM tasker.schema_migrations ORDER BY version',
      );
      return res.rows;
    });

    const known = new Map(migrations.map((m) => [m.version, m]));
    const newest = migrations.at(-1)?.version ?? 0;
    for (const row of applied) {
      if (row.version > newest) {
        throw new TaskerError(
          ErrorCode.MigrationFailed,
          `the database schema is at version ${row.version} but this Tasker only knows up to ${newest}: upgrade Tasker`,
        );
      }
      const m = known.get(row.version);
      if (m && m.checksum !== row.checksum) {
        options.logger?.warn(
          { version: row.version, name: m.name },
          'an applied migration file has changed since it was applied; released migrations must not be edited',
        );
      }
    }

    const done = new Set(applied.map((r) => r.version));
    const result: MigrationResult = { applied: [], alreadyApplied: done.size };
    for (const m of migrations) {
      if (done.has(m.version)) continue;
      const ran = await inTransaction(client, async () => {
        // Another process may have applied it while we waited for the lock.
        const exists = await client.query('SELECT 1 FROM tasker.schema_migrations WHERE version = $1', [
          m.version,
        ]);
        if (exists.rowCount) return false;
        await client.query(m.sql);
        await client.query(
          'INSERT INTO tasker.schema_migrations (version, name, checksum) VALUES ($1, $2, $3)',
          [m.version, m.name, m.checksum],
        );
        return true;
      }).catch((e: unknown) => {
        throw new TaskerError(
          ErrorCode.MigrationFailed,
          `migration ${m.version}_${m.name} failed: ${e instanceof Error ? e.message : String(e)}`,
          { cause: e },
        );
      });
      if (ran) {
        result.applied.push(m);
        options.logger?.info({ version: m.version, name: m.name }, 'migration applied');
      }
    }
    return result;
  } finally {
    client.release();
  }
}

/** True when every known migration is applied (used by readiness checks). */
export async function migrationsCurrent(pool: pg.Pool, dir?: string): Promise<boolean> {
  const migrations = await loadMigrations(dir);
  try {
    const res = await pool.query<{ max: number | null }>(
      'SELECT max(version) AS max FROM tasker.schema_migrations',
    );
    return (res.rows[0]?.max ?? 0) >= (migrations.at(-1)?.version ?? 0);
  } catch {
    return false;
  }
}
