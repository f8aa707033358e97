import type pg from 'pg';
import type { Logger } from 'pino';
import { ErrorCode, TaskerError } from '../errors.js';
import {
  FUNCTIONS_DIR,
  loadFunctions,
  loadMigrations,
  MIGRATIONS_DIR,
  type FunctionDefinition,
  type Migration,
} from './sql-files.js';

export {
  FUNCTIONS_DIR,
  loadFunctions,
  loadMigrations,
  MIGRATIONS_DIR,
  type FunctionDefinition,
  type Migration,
};

/** Arbitrary but fixed: every Tasker process takes this advisory lock while migrating. */
const MIGRATION_LOCK_KEY = 7_262_537_001;

/**
 * The last migration written before functions moved to `sql/functions/` (ADR 0007). Those files were rewritten
 * then to hold tables and data only; a database that applied their earlier text records the new checksums once.
 */
const LAST_REWRITTEN_MIGRATION = 18;

export interface MigrationResult {
  applied: Migration[];
  alreadyApplied: number;
  /** Functions (re)defined because their file is new or changed. */
  functionsApplied: string[];
}

export interface MigrateOptions {
  logger?: Logger;
  /** Migrations directory (default: the package's `migrations/`). */
  dir?: string;
  /** Function definitions directory (default: the package's `sql/functions/`). */
  functionsDir?: string;
}

interface DatabaseState {
  migrations: Map<number, string>;
  /** Checksum by function name; undefined before the first migrate under the function-file layout. */
  functions: Map<string, string> | undefined;
}

async function readState(client: pg.PoolClient): Promise<DatabaseState> {
  const migrations = await client.query<{ version: number; checksum: string }>(
    'SELECT version, checksum FROM tasker.schema_migrations ORDER BY version',
  );
  const hasFunctions = await client.query(`SELECT to_regclass('tasker.schema_functions') IS NOT NULL AS ok`);
  let functions: Map<string, string> | undefined;
  if ((hasFunctions.rows[0] as { ok: boolean }).ok) {
    const rows = await client.query<{ name: string; checksum: string }>(
      'SELECT name, checksum FROM tasker.schema_functions',
    );
    functions = new Map(rows.rows.map((r) => [r.name, r.checksum]));
  }
  return { migrations: new Map(migrations.rows.map((r) => [r.version, r.checksum])), functions };
}

function checkVersions(
  state: DatabaseState,
  migrations: readonly Migration[],
  logger: Logger | undefined,
): void {
  const newest = migrations.at(-1)?.version ?? 0;
  const known = new Map(migrations.map((m) => [m.version, m]));
  for (const [version, checksum] of state.migrations) {
    if (version > newest) {
      throw new TaskerError(
        ErrorCode.MigrationFailed,
        `the database schema is at version ${version} but this Tasker only knows up to ${newest}: upgrade Tasker`,
      );
    }
    const m = known.get(version);
    const rewritten = state.functions === undefined && version <= LAST_REWRITTEN_MIGRATION;
    if (m && m.checksum !== checksum && !rewritten) {
      logger?.warn(
        { version, migration: m.name },
        'an applied migration file has changed since it was applied; released migrations must not be edited',
      );
    }
  }
}

/** Functions whose file is new or changed; all of them on a database that has never recorded any. */
function changedFunctions(
  state: DatabaseState,
  functions: readonly FunctionDefinition[],
): FunctionDefinition[] {
  return functions.filter((f) => state.functions?.get(f.name) !== f.checksum);
}

/**
 * Applies one function file in a savepoint. A changed result type cannot be replaced in place, so the old
 * function is dropped and the file applied again. Returns the error when the file needs a table or type that
 * does not exist yet (a fresh database before its migrations), so the caller can retry it after them.
 */
async function applyFunction(client: pg.PoolClient, f: FunctionDefinition): Promise<Error | undefined> {
  await client.query('SAVEPOINT tasker_function');
  const before = await overloads(client, f.name);
  try {
    await client.query(f.sql);
    // A changed argument list creates a new function beside the old one: the file defines the only one.
    const after = await overloads(client, f.name);
    if (after.some((sig) => !before.includes(sig))) {
      for (const sig of before) if (after.includes(sig)) await client.query(`DROP FUNCTION ${sig}`);
    }
  } catch (e) {
    await client.query('ROLLBACK TO SAVEPOINT tasker_function');
    const code = (e as { code?: string }).code;
    if (code === '42P01' || code === '42704') return e as Error; // undefined table / type: after the migrations
    if (code !== '42P13') throw e; // anything but "cannot change return type"
    for (const sig of await overloads(client, f.name)) await client.query(`DROP FUNCTION ${sig}`);
    await client.query(f.sql);
  }
  await client.query('RELEASE SAVEPOINT tasker_function');
  return undefined;
}

/** Signatures of the tasker functions called `name` (one, unless a changed argument list added another). */
async function overloads(client: pg.PoolClient, name: string): Promise<string[]> {
  const { rows } = await client.query<{ sig: string }>(
    `SELECT p.oid::regprocedure::text AS sig FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
     WHERE n.nspname = 'tasker' AND p.proname = $1`,
    [name],
  );
  return rows.map((r) => r.sig);
}

async function migrateLocked(
  client: pg.PoolClient,
  migrations: readonly Migration[],
  functions: readonly FunctionDefinition[],
  logger: Logger | undefined,
): Promise<MigrationResult> {
  // Read again under the lock: another process may have done the work while we waited.
  const state = await readState(client);
  checkVersions(state, migrations, logger);
  const pending = migrations.filter((m) => !state.migrations.has(m.version));
  const changed = changedFunctions(state, functions);
  const result: MigrationResult = {
    applied: [],
    alreadyApplied: state.migrations.size,
    functionsApplied: [],
  };
  const names = new Set(functions.map((f) => f.name));
  const removed = [...(state.functions?.keys() ?? [])].some((n) => !names.has(n));
  if (pending.length === 0 && changed.length === 0 && !removed && state.functions !== undefined) {
    return result;
  }

  // Functions first (their bodies are checked when called, not now), so migrations can use them in CHECKs,
  // defaults and data changes; a function that needs a table not created yet follows the migrations.
  await client.query('SET LOCAL check_function_bodies = off');
  const deferred: FunctionDefinition[] = [];
  for (const f of changed) if (await applyFunction(client, f)) deferred.push(f);
  for (const m of pending) {
    try {
      await client.query(m.sql);
    } catch (e) {
      throw new TaskerError(
        ErrorCode.MigrationFailed,
        `migration ${m.version}_${m.name} failed: ${e instanceof Error ? e.message : String(e)}`,
        { cause: e },
      );
    }
    await client.query('INSERT INTO tasker.schema_migrations (version, name, checksum) VALUES ($1, $2, $3)', [
      m.version,
      m.name,
      m.checksum,
    ]);
    result.applied.push(m);
    logger?.info({ version: m.version, migration: m.name }, 'migration applied');
  }
  for (const f of deferred) {
    const err = await applyFunction(client, f);
    if (err) {
      throw new TaskerError(ErrorCode.MigrationFailed, `function ${f.name}: ${err.message}`, { cause: err });
    }
  }
  await recordFunctions(client, state, migrations, functions, changed);
  result.functionsApplied = changed.map((f) => f.name);
  if (changed.length > 0) logger?.info({ functions: result.functionsApplied }, 'functions defined');
  return result;
}

/** Records the applied function checksums; drops functions whose file was removed since they were recorded. */
async function recordFunctions(
  client: pg.PoolClient,
  state: DatabaseState,
  migrations: readonly Migration[],
  functions: readonly FunctionDefinition[],
  changed: readonly FunctionDefinition[],
): Promise<void> {
  await client.query(`CREATE TABLE IF NOT EXISTS tasker.schema_functions (
    name text PRIMARY KEY, checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
  if (state.functions === undefined) {
    // First migrate under this layout: the rewritten migrations (tables only now) are what the database has.
    for (const m of migrations.filter((x) => x.version <= LAST_REWRITTEN_MIGRATION)) {
      await client.query('UPDATE tasker.schema_migrations SET checksum = $2 WHERE version = $1', [
        m.version,
        m.checksum,
      ]);
    }
  }
  for (const f of changed) {
    await client.query(
      `INSERT INTO tasker.schema_functions (name, checksum) VALUES ($1, $2)
       ON CONFLICT (name) DO UPDATE SET checksum = EXCLUDED.checksum, applied_at = now()`,
      [f.name, f.checksum],
    );
  }
  const names = new Set(functions.map((f) => f.name));
  for (const gone of [...(state.functions?.keys() ?? [])].filter((n) => !names.has(n))) {
    const sigs = await client.query<{ sig: string }>(
      `SELECT p.oid::regprocedure::text AS sig FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
       WHERE n.nspname = 'tasker' AND p.proname = $1`,
      [gone],
    );
    for (const { sig } of sigs.rows) await client.query(`DROP FUNCTION IF EXISTS ${sig}`);
    await client.query('DELETE FROM tasker.schema_functions WHERE name = $1', [gone]);
  }
}

/**
 * Brings a database up to date in one transaction under a transaction-scoped advisory lock, so that any number
 * of processes may migrate one database at once (the first applies, the others wait and find it done) and other
 * processes see the old schema or the new one, never a mix: new or changed function files, then pending
 * migrations, then the functions that needed those migrations' tables. Refuses a schema newer than this code and
 * reports an edited released migration.
 */
export async function migrate(pool: pg.Pool, options: MigrateOptions = {}): Promise<MigrationResult> {
  const migrations = await loadMigrations(options.dir ?? MIGRATIONS_DIR);
  const functions = await loadFunctions(options.functionsDir ?? FUNCTIONS_DIR);
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    try {
      await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK_KEY]);
      await client.query('CREATE SCHEMA IF NOT EXISTS tasker');
      await client.query(`CREATE TABLE IF NOT EXISTS tasker.schema_migrations (
        version int PRIMARY KEY, name text NOT NULL, checksum text NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now())`);
      const result = await migrateLocked(client, migrations, functions, options.logger);
      await client.query('COMMIT');
      return result;
    } catch (e) {
      await client.query('ROLLBACK').catch(() => {});
      throw e instanceof TaskerError
        ? e
        : new TaskerError(ErrorCode.MigrationFailed, `migration failed: ${(e as Error).message}`, {
            cause: e,
          });
    }
  } finally {
    client.release();
  }
}

/** True when every known migration is applied and every function is current (used by readiness checks). */
export async function migrationsCurrent(
  pool: pg.Pool,
  dir?: string,
  functionsDir?: string,
): Promise<boolean> {
  const migrations = await loadMigrations(dir);
  const functions = await loadFunctions(functionsDir);
  try {
    const res = await pool.query<{ max: number | null }>(
      'SELECT max(version) AS max FROM tasker.schema_migrations',
    );
    if ((res.rows[0]?.max ?? 0) < (migrations.at(-1)?.version ?? 0)) return false;
    const recorded = await pool.query<{ name: string; checksum: string }>(
      'SELECT name, checksum FROM tasker.schema_functions',
    );
    const byName = new Map(recorded.rows.map((r) => [r.name, r.checksum]));
    return functions.every((f) => byName.get(f.name) === f.checksum);
  } catch {
    return false;
  }
}
