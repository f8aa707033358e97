import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { loadMigrations, migrate, migrationsCurrent, MIGRATIONS_DIR } from '../../src/db/migrate.js';
import { createPool } from '../../src/db/pool.js';
import { ErrorCode, TaskerError } from '../../src/errors.js';
import { databaseUrl } from '../support/urls.js';

/** The engine functions on the per-step path, whose definitions carry the planner settings (docs/adr/0004). */
const HOT_PATH_FUNCTIONS = [
  'log_step_transitions',
  'log_task_transitions',
  'move_tasks',
  'send_step_messages',
  'create_task',
  'claim_steps',
  'complete_steps',
  'resolve_steps',
  'process_step_results',
  'enqueue_due_retries',
  'record_failed_tasks',
  'checkpoint_step',
  'release_steps',
  'notify_task_finished',
  'resolve_decide_outcomes',
  'resolve_apply_decisions',
  'resolve_expand_batches',
  'resolve_cascade_skips',
  'resolve_fail_fast',
  'resolve_record_outcomes',
  'resolve_enqueue_ready',
  'resolve_finalize_tasks',
  'create_task_steps',
  'fail_lost_leases',
  'claimed_step_contexts',
  'resolve_log_outcome',
  'settle_successes',
  'settle_last_steps',
  'release_dependents',
  'publish_step_events',
  'log_step_paths',
  'finalize_tasks',
  'start_chained_steps',
];

interface FreshDatabase {
  name: string;
  url: string;
  pools: pg.Pool[];
  pool(): pg.Pool;
}

describe('migrate', () => {
  const adminUrl = inject('adminUrl');
  const created: FreshDatabase[] = [];

  /** An empty database (no tasker schema), dropped after the file. */
  async function freshDatabase(): Promise<FreshDatabase> {
    const name = `tasker_test_${inject('runId')}_m_${randomBytes(4).toString('hex')}`;
    const admin = new pg.Client({ connectionString: adminUrl });
    await admin.connect();
    try {
      await admin.query(`CREATE DATABASE ${name}`);
    } finally {
      await admin.end();
    }
    const url = databaseUrl(adminUrl, name);
    const fresh: FreshDatabase = {
      name,
      url,
      pools: [],
      pool() {
        const p = createPool({
          url,
          maxConnections: 3,
          idleTimeoutMs: 1000,
          acquireTimeoutMs: 10000,
          statementTimeoutMs: 60000,
          applicationName: 'tasker-test-migrate',
        });
        fresh.pools.push(p);
        return p;
      },
    };
    created.push(fresh);
    return fresh;
  }

  afterAll(async () => {
    for (const d of created) for (const p of d.pools) await p.end().catch(() => {});
    const admin = new pg.Client({ connectionString: adminUrl });
    await admin.connect();
    for (const d of created) await admin.query(`DROP DATABASE IF EXISTS ${d.name} WITH (FORCE)`);
    await admin.end();
  });

  let migrationFiles: string[];
  beforeAll(async () => {
    migrationFiles = (await readdir(MIGRATIONS_DIR)).filter((f) => f.endsWith('.sql')).sort();
  });

  async function recorded(pool: pg.Pool): Promise<{ version: number; name: string; n: number }[]> {
    const res = await pool.query<{ version: number; name: string; n: number }>(
      `SELECT version, min(name) AS name, count(*)::int AS n FROM tasker.schema_migrations GROUP BY version ORDER BY version`,
    );
    return res.rows;
  }

  it('applies every migration to an empty database, and nothing the second time', async () => {
    const db = await freshDatabase();
    const pool = db.pool();
    expect(await migrationsCurrent(pool)).toBe(false);

    const known = await loadMigrations();
    expect(known.map((m) => `${String(m.version).padStart(4, '0')}_${m.name}.sql`)).toEqual(migrationFiles);

    const first = await migrate(pool);
    expect(first.alreadyApplied).toBe(0);
    expect(first.applied.map((m) => m.version)).toEqual(known.map((m) => m.version));
    expect(await recorded(pool)).toEqual(known.map((m) => ({ version: m.version, name: m.name, n: 1 })));
    const checksums = await pool.query<{ version: number; checksum: string }>(
      'SELECT version, checksum FROM tasker.schema_migrations ORDER BY version',
    );
    expect(checksums.rows).toEqual(known.map((m) => ({ version: m.version, checksum: m.checksum })));
    expect(await migrationsCurrent(pool)).toBe(true);

    // The schema is really there: functions work.
    await pool.query(`SELECT tasker.create_queue('after_migrate')`);
    const id = await pool.query<{ id: string }>(`SELECT tasker.send('after_migrate', '{}'::jsonb) AS id`);
    expect(id.rows[0]!.id).toMatch(/^\d+$/);

    const second = await migrate(pool);
    expect(second.applied).toEqual([]);
    expect(second.alreadyApplied).toBe(known.length);
    expect(await recorded(pool)).toHaveLength(known.length);
  });

  it('5 concurrent migrations on separate pools all succeed and record each version exactly once', async () => {
    const db = await freshDatabase();
    const pools = Array.from({ length: 5 }, () => db.pool());
    const results = await Promise.all(pools.map((p) => migrate(p)));
    const known = await loadMigrations();

    // Every version was applied by exactly one of the callers.
    const appliedVersions = results.flatMap((r) => r.applied.map((m) => m.version)).sort((a, b) => a - b);
    expect(appliedVersions).toEqual(known.map((m) => m.version));
    expect(await recorded(pools[0]!)).toEqual(known.map((m) => ({ version: m.version, name: m.name, n: 1 })));

    // The seeded data was inserted once, not five times.
    const queues = await pools[0]!.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM tasker.queues WHERE queue_name = 'orchestration_step_results'`,
    );
    expect(queues.rows[0]!.n).toBe(1);
  });

  it('every migration file can be re-run by hand right after it was applied (each is idempotent)', async () => {
    // A later migration may redefine an earlier one's function with another result type, so "re-runnable" is
    // checked where it matters: each file, applied by the runner up to itself, then run again twice by hand
    // (as after a crash between applying and recording it).
    const db = await freshDatabase();
    const pool = db.pool();
    const all = await loadMigrations();
    const partial = await mkdtemp(join(tmpdir(), 'tasker-migrations-'));
    try {
      for (const m of all) {
        const file = `${String(m.version).padStart(4, '0')}_${m.name}.sql`;
        await writeFile(join(partial, file), m.sql);
        await migrate(pool, { dir: partial });
        await expect(pool.query(m.sql), `re-running ${file}`).resolves.toBeDefined();
        await expect(pool.query(m.sql), `re-running ${file} twice`).resolves.toBeDefined();
      }
    } finally {
      await rm(partial, { recursive: true, force: true });
    }
    const reference = await freshDatabase();
    await migrate(reference.pool());
    // Re-running left nothing extra behind: the same seed rows as a database migrated once.
    const seeds = async (p: pg.Pool) => {
      const res = await p.query<{ t: string; n: number }>(`
        SELECT 'task_states' AS t, count(*)::int AS n FROM tasker.task_states
        UNION ALL SELECT 'step_states', count(*)::int FROM tasker.step_states
        UNION ALL SELECT 'task_state_transitions', count(*)::int FROM tasker.task_state_transitions
        UNION ALL SELECT 'step_state_transitions', count(*)::int FROM tasker.step_state_transitions
        UNION ALL SELECT 'queues', count(*)::int FROM tasker.queues
        ORDER BY 1`);
      return res.rows;
    };
    expect(await seeds(pool)).toEqual(await seeds(reference.pool()));
    const again = await migrate(pool);
    expect(again.applied).toEqual([]);
  });

  it('every per-step function keeps its planner settings after all migrations (a redefinition resets them)', async () => {
    const db = await freshDatabase();
    const pool = db.pool();
    await migrate(pool);
    const res = await pool.query<{ name: string; config: string[] | null }>(
      `SELECT p.proname AS name, p.proconfig AS config FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
       WHERE n.nspname = 'tasker' AND p.proname = ANY($1) ORDER BY 1`,
      [HOT_PATH_FUNCTIONS],
    );
    expect(res.rows.map((r) => r.name)).toEqual([...HOT_PATH_FUNCTIONS].sort());
    for (const row of res.rows) {
      expect(new Set(row.config ?? []), row.name).toEqual(
        new Set([
          'plan_cache_mode=force_generic_plan',
          'enable_seqscan=off',
          'enable_mergejoin=off',
          'enable_hashjoin=off',
          'jit=off',
        ]),
      );
    }
  });

  it('refuses a database whose schema is newer than the code', async () => {
    const db = await freshDatabase();
    const pool = db.pool();
    await migrate(pool);
    await pool.query(
      `INSERT INTO tasker.schema_migrations (version, name, checksum) VALUES (9999, 'future', 'x')`,
    );
    const err = await migrate(pool).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TaskerError);
    expect((err as TaskerError).code).toBe(ErrorCode.MigrationFailed);
    expect((err as Error).message).toMatch(/9999/);
    // Nothing was changed by the refused run.
    const rows = await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM tasker.schema_migrations');
    expect(rows.rows[0]!.n).toBe((await loadMigrations()).length + 1);
  });

  describe('loadMigrations', () => {
    let dir: string;
    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), 'tasker-migrations-'));
    });
    afterAll(async () => {
      await rm(dir, { recursive: true, force: true });
    });

    it('reads files in version order and ignores files that are not .sql', async () => {
      const ok = join(dir, 'ok');
      await mkdir(ok);
      await writeFile(join(ok, '0002_second.sql'), 'SELECT 2;');
      await writeFile(join(ok, '0001_first.sql'), 'SELECT 1;');
      await writeFile(join(ok, 'notes.txt'), 'ignored');
      const ms = await loadMigrations(ok);
      expect(ms.map((m) => [m.version, m.name, m.sql])).toEqual([
        [1, 'first', 'SELECT 1;'],
        [2, 'second', 'SELECT 2;'],
      ]);
      expect(ms[0]!.checksum).toMatch(/^[0-9a-f]{64}$/);
      expect(ms[0]!.checksum).not.toBe(ms[1]!.checksum);
    });

    it('rejects two files with the same version instead of silently skipping one', async () => {
      const sub = await mkdtemp(join(dir, 'dup-'));
      await writeFile(join(sub, '0001_a.sql'), 'SELECT 1;');
      await writeFile(join(sub, '0001_b.sql'), 'SELECT 2;');
      const err = await loadMigrations(sub).catch((e: unknown) => e);
      expect((err as TaskerError).code).toBe(ErrorCode.MigrationFailed);
      expect((err as Error).message).toContain('duplicate migration version 1');
    });

    it.each(['bad-name.sql', '1_short.sql', '0003_Upper.sql', '00004_five_digits.sql', '0005.sql'])(
      'rejects a badly named file: %s',
      async (bad) => {
        const sub = await mkdtemp(join(dir, 'bad-'));
        await writeFile(join(sub, '0001_fine.sql'), 'SELECT 1;');
        await writeFile(join(sub, bad), 'SELECT 1;');
        const err = await loadMigrations(sub).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(TaskerError);
        expect((err as TaskerError).code).toBe(ErrorCode.MigrationFailed);
        expect((err as Error).message).toContain(bad);
      },
    );
  });
});
