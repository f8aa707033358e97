import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.js';
import { createPool } from '../../src/db/pool.js';
import { createTask } from '../../src/orchestration/task-creator.js';
import { registerTemplate } from '../../src/orchestration/template-registry.js';
import { defineTemplate, type StepDefinition, type TaskTemplate } from '../../src/templates/index.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';

/**
 * Creating a task costs O(steps + edges) whatever the statistics say. The database is fresh (its tables never
 * analyzed: autovacuum is switched off for them so a background ANALYZE cannot change the plans under the
 * test), which is where create_task used to plan its edge insertion as nested loops over every step for every
 * step. The cost is measured structurally, as the rows every plan node of every statement inside create_task
 * produced or filtered out (auto_explain with ANALYZE, sent to this connection as notices), never as time.
 */
const ns = 'create_cost';

/** start -> `width` parallel steps -> end: `width + 2` steps and `2 * width` edges. */
function fanOut(name: string, width: number): TaskTemplate {
  // The DSL types step names statically; the generated middle steps are copies of one built step.
  const shape = defineTemplate({ namespace: ns, name, version: '1.0.0' })
    .step('start', { handler: 'noop' })
    .step('middle', { handler: 'noop', dependsOn: ['start'] })
    .build();
  const [start, middle] = shape.steps as [StepDefinition, StepDefinition];
  const names = Array.from({ length: width }, (_, i) => `w${String(i).padStart(4, '0')}`);
  return {
    ...shape,
    steps: [
      start,
      ...names.map((n) => ({ ...middle, name: n })),
      { ...middle, name: 'end', dependsOn: names },
    ],
  };
}

interface PlanNode {
  'Node Type': string;
  'Actual Rows'?: number;
  'Actual Loops'?: number;
  'Rows Removed by Filter'?: number;
  'Rows Removed by Join Filter'?: number;
  'Rows Removed by Index Recheck'?: number;
  Plans?: PlanNode[];
}

interface StatementCost {
  query: string;
  /** Rows the statement's plan nodes produced or filtered out, over all their loops. */
  rows: number;
  /** The largest such count of a single plan node. */
  maxNodeRows: number;
}

function nodeRows(node: PlanNode): number {
  // EXPLAIN reports rows and removed rows per loop.
  const perLoop =
    (node['Actual Rows'] ?? 0) +
    (node['Rows Removed by Filter'] ?? 0) +
    (node['Rows Removed by Join Filter'] ?? 0) +
    (node['Rows Removed by Index Recheck'] ?? 0);
  return perLoop * (node['Actual Loops'] ?? 1);
}

function costOf(query: string, plan: PlanNode): StatementCost {
  let rows = 0;
  let maxNodeRows = 0;
  const walk = (node: PlanNode): void => {
    const n = nodeRows(node);
    rows += n;
    maxNodeRows = Math.max(maxNodeRows, n);
    for (const child of node.Plans ?? []) walk(child);
  };
  walk(plan);
  return { query, rows, maxNodeRows };
}

/** Runs create_task for `template` on its own connection and returns the cost of every statement it ran. */
async function createWithPlans(url: string, template: string): Promise<StatementCost[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const costs: StatementCost[] = [];
  client.on('notice', (notice) => {
    const json = /plan:\s*(\{[\s\S]*\})\s*$/.exec(notice.message ?? '');
    if (!json) return;
    const doc = JSON.parse(json[1]!) as { 'Query Text': string; Plan: PlanNode };
    costs.push(costOf(doc['Query Text'], doc.Plan));
  });
  try {
    // A quadratic plan must fail this test, not hold the server busy after the test timed out.
    await client.query(`SET statement_timeout = '40s'`);
    await client.query(`LOAD 'auto_explain'`);
    await client.query(`SET auto_explain.log_min_duration = 0`);
    await client.query(`SET auto_explain.log_nested_statements = on`);
    await client.query(`SET auto_explain.log_analyze = on`);
    await client.query(`SET auto_explain.log_timing = off`);
    await client.query(`SET auto_explain.log_format = json`);
    await client.query(`SET auto_explain.log_level = notice`);
    await client.query(`SET client_min_messages = notice`);
    await client.query(
      `SELECT * FROM tasker.create_task($1, $2, NULL, '{}'::jsonb, '{}'::jsonb, 'cost-test', true)`,
      [ns, template],
    );
    // Notices arrive before the query's result; this round trip makes sure every one was handled.
    await client.query('SELECT 1');
  } finally {
    await client.end();
  }
  // The outermost entry is the create_task call itself, whose function scan counts its one result row.
  return costs.filter((c) => !/^\s*SELECT \* FROM tasker\.create_task/.test(c.query));
}

describe('task creation cost on a fresh database', () => {
  let db: TestDatabase;
  const small = fanOut('fan_200', 200);
  const large = fanOut('fan_2000', 2000);

  beforeAll(async () => {
    db = await createTestDatabase();
    for (const table of [
      'template_steps',
      'tasks',
      'workflow_steps',
      'workflow_step_edges',
      'workflow_step_transitions',
      'task_transitions',
      'queue_messages',
    ]) {
      await db.pool.query(`ALTER TABLE tasker.${table} SET (autovacuum_enabled = off)`);
    }
    await registerTemplate(db.pool, small);
    await registerTemplate(db.pool, large);
  });
  afterAll(async () => {
    await db?.drop();
  });

  it('has no statistics on the step tables (the situation under test)', async () => {
    const { rows } = await db.pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM pg_stats
       WHERE schemaname = 'tasker' AND tablename IN ('template_steps', 'workflow_steps', 'workflow_step_edges')`,
    );
    expect(rows[0]!.n).toBe(0);
  });

  it('touches rows in proportion to steps + edges, not to their product', async () => {
    const steps = 202;
    const edges = 400;
    const costs = await createWithPlans(db.url, 'fan_200');
    expect(costs.length).toBeGreaterThan(0);
    // The heaviest single plan node: a pass over the steps or the edges, never over pairs of steps
    // (before migration 0016 one node produced 40,804 rows: 202 x 202).
    const heaviest = costs.reduce((a, b) => (b.maxNodeRows > a.maxNodeRows ? b : a));
    expect(heaviest.maxNodeRows, heaviest.query).toBeLessThanOrEqual(2 * (steps + edges));
    // Everything together, foreign-key checks and the returned task view included: a bounded number of rows per
    // step and per edge (inserted rows, transitions, messages, key checks, the view's lookups): about 14 today;
    // before 0016 it was over 200.
    const total = costs.reduce((sum, c) => sum + c.rows, 0);
    expect(total).toBeLessThanOrEqual(20 * (steps + edges));
  });

  it('grows linearly: ten times the steps and edges cost at most about ten times the rows', async () => {
    const smallTotal = (await createWithPlans(db.url, 'fan_200')).reduce((sum, c) => sum + c.rows, 0);
    const largeTotal = (await createWithPlans(db.url, 'fan_2000')).reduce((sum, c) => sum + c.rows, 0);
    // 602 -> 6,002 steps + edges. Quadratic growth would be a factor of ~100.
    expect(largeTotal / smallTotal).toBeLessThan(12);
  });

  it('creates a 2,002-step task within the default statement timeout, with every step and edge', async () => {
    // The timeout every engine connection gets by default (common.database.statement_timeout_ms).
    const config = loadConfig({ env: { TASKER_ENV: 'test' } });
    const pool = createPool({
      url: db.url,
      maxConnections: 1,
      idleTimeoutMs: 1000,
      acquireTimeoutMs: 10_000,
      statementTimeoutMs: config.common.database.statement_timeout_ms,
      applicationName: 'tasker-test-create-cost',
    });
    try {
      const created = await createTask(
        pool,
        { namespace: ns, name: 'fan_2000', context: { big: true } },
        'cost-test',
        { withView: true },
      );
      expect(created.stepsEnqueued).toBe(1);
      expect(created.task?.steps).toHaveLength(2002);
      expect(created.task?.steps[0]?.name).toBe('start');
      expect(created.task?.steps[2001]?.name).toBe('end');
      expect(created.task?.steps[2001]?.dependsOn).toHaveLength(2000);
      const { rows } = await pool.query<{ steps: number; edges: number; pending: number }>(
        `SELECT (SELECT count(*)::int FROM tasker.workflow_steps WHERE task_uuid = $1) AS steps,
                (SELECT count(*)::int FROM tasker.workflow_step_edges e
                 JOIN tasker.workflow_steps s ON s.step_uuid = e.to_step_uuid WHERE s.task_uuid = $1) AS edges,
                (SELECT pending_parents FROM tasker.workflow_steps WHERE task_uuid = $1 AND name = 'end') AS pending`,
        [created.taskUuid],
      );
      expect(rows[0]).toEqual({ steps: 2002, edges: 4000, pending: 2000 });
    } finally {
      await pool.end();
    }
  });
});
