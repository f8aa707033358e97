/**
 * One place per definition (docs/adr/0007-sql-layout.md): every function has one file in sql/functions/ and no
 * migration defines one; the generated table files match a database migrated from scratch; a function file is
 * applied only when its content changed; a database built by the migrations as they were before this layout
 * upgrades in place with its tasks intact and running.
 */
import { cp, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { FUNCTIONS_DIR, loadMigrations, migrate, MIGRATIONS_DIR } from '../../src/db/migrate.js';
import { dumpTables, SCHEMA_DUMP_COMMAND } from '../../src/db/schema-dump.js';
import { defineTemplate } from '../../src/templates/index.js';
import { defineHandler } from '../../src/worker/handler.js';
import { createEmptyDatabase, type TestDatabase } from '../support/db.js';
import { startEngine, waitForTask } from '../support/engine.js';
import { databaseUrl } from '../support/urls.js';

const TABLES_DIR = fileURLToPath(new URL('../../sql/tables/', import.meta.url));
const PRE_LAYOUT = fileURLToPath(new URL('../fixtures/pre-layout-migrations/', import.meta.url));

const sqlFiles = async (dir: string): Promise<string[]> =>
  (await readdir(dir)).filter((f) => f.endsWith('.sql')).sort();

describe('the SQL layout', () => {
  const databases: TestDatabase[] = [];
  const scratch: string[] = [];
  afterAll(async () => {
    for (const d of databases) await d.drop();
    for (const dir of scratch) await rm(dir, { recursive: true, force: true });
  });
  async function empty(): Promise<TestDatabase> {
    const db = await createEmptyDatabase();
    databases.push(db);
    return db;
  }
  async function functionsCopy(): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), 'tasker-functions-'));
    scratch.push(dir);
    await cp(FUNCTIONS_DIR, dir, { recursive: true });
    return dir;
  }

  it('every function of the schema has exactly one file, named after it, and no migration defines one', async () => {
    const admin = new pg.Pool({ connectionString: databaseUrl(inject('adminUrl'), inject('templateDb')) });
    try {
      const res = await admin.query<{ name: string }>(
        `SELECT p.proname AS name FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
         WHERE n.nspname = 'tasker' ORDER BY 1`,
      );
      const files = (await sqlFiles(FUNCTIONS_DIR)).map((f) => f.replace(/\.sql$/, ''));
      expect(res.rows.map((r) => r.name)).toEqual(files);
    } finally {
      await admin.end();
    }
    for (const m of await loadMigrations()) {
      expect(m.sql, `migration ${m.version}_${m.name}`).not.toMatch(
        /\b(CREATE|ALTER)\s+(OR\s+REPLACE\s+)?FUNCTION/i,
      );
    }
    for (const f of await sqlFiles(FUNCTIONS_DIR)) {
      // History lives in git, not in live bodies ("-- 0011: ..." notes).
      expect(await readFile(join(FUNCTIONS_DIR, f), 'utf8'), f).not.toMatch(
        /--[^\n]*(\b00\d\d:|\(00\d\d\)|see 00\d\d|as in 00\d\d)/,
      );
    }
  });

  it(`sql/tables/ is the current shape of every table (regenerate with: ${SCHEMA_DUMP_COMMAND})`, async () => {
    const admin = new pg.Pool({ connectionString: databaseUrl(inject('adminUrl'), inject('templateDb')) });
    try {
      const tables = await dumpTables(admin);
      expect(await sqlFiles(TABLES_DIR)).toEqual(tables.map((t) => `${t.name}.sql`));
      for (const t of tables) {
        expect(await readFile(join(TABLES_DIR, `${t.name}.sql`), 'utf8'), t.name).toBe(t.sql);
      }
    } finally {
      await admin.end();
    }
  });

  it('applies a function file only when its content changed, replaces a changed result type, drops a removed one', async () => {
    const db = await empty();
    const dir = await functionsCopy();
    const first = await migrate(db.pool, { functionsDir: dir });
    expect(first.functionsApplied).toEqual(
      (await sqlFiles(FUNCTIONS_DIR)).map((f) => f.replace(/\.sql$/, '')),
    );
    expect((await migrate(db.pool, { functionsDir: dir })).functionsApplied).toEqual([]);

    const probe = (returns: string, value: string): string =>
      `CREATE OR REPLACE FUNCTION tasker.zz_probe() RETURNS ${returns} LANGUAGE sql AS $$ SELECT ${value} $$;\n`;
    await writeFile(join(dir, 'zz_probe.sql'), probe('int', '1'));
    const readme = join(dir, 'worker_queue_name.sql');
    await writeFile(readme, `-- A comment changes the content.\n${await readFile(readme, 'utf8')}`);
    expect((await migrate(db.pool, { functionsDir: dir })).functionsApplied.sort()).toEqual([
      'worker_queue_name',
      'zz_probe',
    ]);
    const value = async (): Promise<unknown> =>
      (await db.pool.query<{ v: unknown }>('SELECT tasker.zz_probe() AS v')).rows[0]!.v;
    expect(await value()).toBe(1);

    await writeFile(join(dir, 'zz_probe.sql'), probe('text', `'two'`));
    expect((await migrate(db.pool, { functionsDir: dir })).functionsApplied).toEqual(['zz_probe']);
    expect(await value()).toBe('two');

    await rm(join(dir, 'zz_probe.sql'));
    await migrate(db.pool, { functionsDir: dir });
    await expect(value()).rejects.toThrow(/zz_probe/);
  });

  it('a function file that defines another function, or two, is refused before anything is applied', async () => {
    const db = await empty();
    const dir = await functionsCopy();
    await writeFile(
      join(dir, 'misnamed.sql'),
      'CREATE FUNCTION tasker.other() RETURNS int LANGUAGE sql AS $$ SELECT 1 $$;',
    );
    await expect(migrate(db.pool, { functionsDir: dir })).rejects.toThrow(/misnamed\.sql.*tasker\.misnamed/);
    const schema = await db.pool.query(`SELECT 1 FROM pg_namespace WHERE nspname = 'tasker'`);
    expect(schema.rowCount).toBe(0);
  });

  it('a database built by the migrations before this layout upgrades in place, its tasks intact and running', async () => {
    const db = await empty();
    // Built as Tasker did then: the old files, functions inside migrations, no function records.
    const noFunctions = await mkdtemp(join(tmpdir(), 'tasker-no-functions-'));
    scratch.push(noFunctions);
    await migrate(db.pool, { dir: PRE_LAYOUT, functionsDir: noFunctions });
    await db.pool.query('DROP TABLE tasker.schema_functions');
    const ns = 'layout_upgrade';
    const template = defineTemplate({ namespace: ns, name: 'pair', version: '1.0.0' })
      .step('first', { handler: 'upgrade.step' })
      .step('second', { handler: 'upgrade.step', dependsOn: ['first'] })
      .build();
    const handlers = [
      defineHandler('upgrade.step', (ctx) => ({ step: ctx.stepName, saw: ctx.dependencyResults })),
    ];

    // A task completes and another waits in the queue, under the old definitions.
    // The old schema knows only the four-transaction path (complete_steps without claims).
    const before = await startEngine(db, {
      templates: [template],
      handlers,
      overrides: { worker: { resolve_in_completion: false } },
    });
    const done = (await before.orchestrator.createTask({ namespace: ns, name: 'pair', context: { n: 1 } }))
      .taskUuid;
    expect((await waitForTask(db.pool, done)).state).toBe('complete');
    await before.worker.stop();
    const waiting = (await before.orchestrator.createTask({ namespace: ns, name: 'pair', context: { n: 2 } }))
      .taskUuid;
    await before.orchestrator.stop();

    const upgrade = await migrate(db.pool);
    expect(upgrade.applied.map((m) => m.version)).toEqual(
      (await loadMigrations(MIGRATIONS_DIR)).map((m) => m.version).filter((v) => v > 18),
    );
    expect(upgrade.functionsApplied).toHaveLength((await sqlFiles(FUNCTIONS_DIR)).length);
    const helper = await db.pool.query(`SELECT 1 FROM pg_proc WHERE proname = 'apply_hot_path_settings'`);
    expect(helper.rowCount).toBe(0);
    // The old records now carry the rewritten files' checksums: no "edited migration" warning from here on.
    const known = new Map((await loadMigrations()).map((m) => [m.version, m.checksum]));
    const recorded = await db.pool.query<{ version: number; checksum: string }>(
      'SELECT version, checksum FROM tasker.schema_migrations',
    );
    for (const r of recorded.rows) expect(r.checksum, `version ${r.version}`).toBe(known.get(r.version));

    const after = await startEngine(db, { templates: [template], handlers });
    try {
      const old = await waitForTask(db.pool, done);
      expect(old.steps.map((s) => [s.name, s.state, s.result])).toEqual([
        ['first', 'complete', { step: 'first', saw: {} }],
        ['second', 'complete', { step: 'second', saw: { first: { step: 'first', saw: {} } } }],
      ]);
      expect((await waitForTask(db.pool, waiting)).state).toBe('complete');
      const fresh = (await after.orchestrator.createTask({ namespace: ns, name: 'pair', context: {} }))
        .taskUuid;
      expect((await waitForTask(db.pool, fresh)).state).toBe('complete');
    } finally {
      await after.stop();
    }
  });
});
