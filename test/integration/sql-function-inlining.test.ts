/**
 * No SQL body is parsed again per statement (ADR 0003, docs/architecture.md). PostgreSQL inlines a SQL function
 * whose body is one expression (or, for a table function, one query): it is planned with the statement that
 * calls it, once per connection in the engine's cached plans. A SQL function it cannot inline (a scalar one that
 * reads tables, for example) is parsed and planned again in every statement that calls it; and a SQL function
 * inside a CHECK is inlined each time a statement starts writing the table, which means parsing its body again.
 * Both once cost 3-10 % of a task's creation or completion, and half or more of a call to the task view or the
 * metrics (BENCHMARKS.md, issue 12). What needs tables and is called as a scalar is PL/pgSQL.
 */
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../support/db.js';

describe('SQL functions on the engine path', () => {
  let db: TestDatabase;
  let client: pg.PoolClient;
  beforeAll(async () => {
    db = await createTestDatabase();
    client = await db.pool.connect();
  });
  afterAll(async () => {
    client.release();
    await db.drop();
  });

  it('no CHECK constraint calls a SQL function (it would be parsed again by every statement writing the table)', async () => {
    const { rows } = await client.query<{ constraint: string; fn: string }>(
      `SELECT c.conrelid::regclass::text || '.' || c.conname AS constraint, p.proname AS fn
       FROM pg_constraint c
       JOIN pg_depend d ON d.classid = 'pg_constraint'::regclass AND d.objid = c.oid
                       AND d.refclassid = 'pg_proc'::regclass
       JOIN pg_proc p ON p.oid = d.refobjid
       JOIN pg_language l ON l.oid = p.prolang
       WHERE c.contype = 'c' AND c.connamespace = 'tasker'::regnamespace AND l.lanname = 'sql'
       ORDER BY 1, 2`,
    );
    expect(rows).toEqual([]);
    // The state and transition predicates are what the CHECKs call: they exist, in PL/pgSQL.
    const { rows: called } = await client.query<{ fn: string; lang: string }>(
      `SELECT DISTINCT p.proname AS fn, l.lanname AS lang
       FROM pg_constraint c
       JOIN pg_depend d ON d.classid = 'pg_constraint'::regclass AND d.objid = c.oid
                       AND d.refclassid = 'pg_proc'::regclass
       JOIN pg_proc p ON p.oid = d.refobjid
       JOIN pg_language l ON l.oid = p.prolang
       WHERE c.contype = 'c' AND c.connamespace = 'tasker'::regnamespace
       ORDER BY 1`,
    );
    expect(called).toEqual([
      { fn: 'is_allowed_step_transition', lang: 'plpgsql' },
      { fn: 'is_allowed_task_transition', lang: 'plpgsql' },
      { fn: 'is_step_state', lang: 'plpgsql' },
      { fn: 'is_task_state', lang: 'plpgsql' },
    ]);
  });

  it('every SQL function of the schema is inlined into the statement that calls it', async () => {
    const { rows: fns } = await client.query<{ fn: string; args: string[]; set: boolean }>(
      `SELECT s.proname AS fn, ARRAY(SELECT format_type(t, NULL) FROM unnest(s.proargtypes) AS t) AS args,
              s.proretset AS set
       FROM pg_proc s JOIN pg_language l ON l.oid = s.prolang
       WHERE s.pronamespace = 'tasker'::regnamespace AND l.lanname = 'sql'
       ORDER BY 1`,
    );
    // The ones the per-step functions call, and the API's table functions, are among them.
    expect(fns.map((f) => f.fn)).toEqual(
      expect.arrayContaining([
        'list_tasks',
        'queue_channel',
        'step_uuid_for',
        'task_outcomes',
        'worker_queue_name',
      ]),
    );
    // A generic plan keeps the arguments as parameters, so an inlined function shows as its expression (or, for
    // a table function, as its query's plan) and one that is not as a call by name or a Function Scan.
    await client.query("SET plan_cache_mode = 'force_generic_plan'");
    const notInlined: string[] = [];
    for (const [i, { fn, args, set }] of fns.entries()) {
      const params = args.map((_, k) => `$${k + 1}`).join(', ');
      const call = set ? `SELECT * FROM tasker.${fn}(${params})` : `SELECT tasker.${fn}(${params})`;
      await client.query(
        `PREPARE inline_probe_${i}${args.length > 0 ? `(${args.join(', ')})` : ''} AS ${call}`,
      );
      const nulls = args.map(() => 'NULL').join(', ');
      const { rows } = await client.query<{ 'QUERY PLAN': string }>(
        `EXPLAIN (VERBOSE) EXECUTE inline_probe_${i}${args.length > 0 ? `(${nulls})` : ''}`,
      );
      const plan = rows.map((r) => r['QUERY PLAN']).join('\n');
      if (plan.includes(`${fn}(`) || plan.includes(`Function Scan on ${fn}`)) {
        notInlined.push(`${fn}: ${plan}`);
      }
    }
    await client.query('DEALLOCATE ALL');
    await client.query('RESET plan_cache_mode');
    expect(notInlined).toEqual([]);
  });
});
