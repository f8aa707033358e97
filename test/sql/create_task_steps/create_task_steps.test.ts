/**
 * create_task_steps, the part of create_task that writes a task's steps: one row per template step (batch_worker
 * blueprints excluded) with the uuid it was given, one edge per dependency (a dependency on a blueprint becomes an
 * edge from its batchable step), their audit rows, and one message per root step. Each test runs in a rolled-back
 * transaction on a task row made here, so only this function writes steps.
 */
import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { describe, expect, it } from 'vitest';
import { CREATE_EVENT, workerQueueName } from '../../../src/contract/names.js';
import { registerTemplate } from '../../../src/orchestration/template-registry.js';
import type { TaskTemplate } from '../../../src/templates/types.js';
import { sqlTestDatabase } from '../support.js';
import { batch, decision, twoRoots } from '../templates.js';

const { inRollback } = sqlTestDatabase();

interface Made {
  task: string;
  correlation: string;
  /** The uuid given to each step (what create_task computes in its one pass over the template). */
  uuid: Record<string, string>;
}

/** Registers the template, inserts a bare task row and calls create_task_steps for it. */
async function stepsOf(
  c: pg.PoolClient,
  template: TaskTemplate,
  options: { trace?: Record<string, string>; headStartMs?: number } = {},
): Promise<Made> {
  await registerTemplate(c, template);
  const tpl = await c.query<{ template_uuid: string; uuid: Record<string, string>; n: number }>(
    `SELECT t.template_uuid, jsonb_object_agg(s.name, gen_random_uuid()) AS uuid, count(*)::int AS n
     FROM tasker.templates t JOIN tasker.template_steps s ON s.template_uuid = t.template_uuid
     WHERE t.namespace = $1 AND t.name = $2 AND t.version = $3 AND s.step_type <> 'batch_worker'
     GROUP BY t.template_uuid`,
    [template.namespace, template.name, template.version],
  );
  const { template_uuid, uuid, n } = tpl.rows[0]!;
  const task = randomUUID();
  const correlation = randomUUID();
  await c.query(
    `INSERT INTO tasker.tasks (task_uuid, template_uuid, namespace, state, context, steps_total, steps_remaining,
                               correlation_id, identity_hash)
     VALUES ($1, $2, $3, 'steps_in_process', '{}', $4, $4, $5, $6)`,
    [task, template_uuid, template.namespace, n, correlation, `uuid:${task}`],
  );
  await c.query(`SELECT tasker.create_task_steps($1, $2, $3, $4, $5, $6, $7, 'test')`, [
    task,
    template_uuid,
    JSON.stringify(uuid),
    template.namespace,
    correlation,
    options.trace ? JSON.stringify(options.trace) : null,
    options.headStartMs ?? 0,
  ]);
  return { task, correlation, uuid };
}

/** The task's steps by name: the columns create_task_steps sets. */
async function rows(c: pg.PoolClient, task: string): Promise<Record<string, Record<string, unknown>>> {
  const res = await c.query<{ name: string }>(
    `SELECT name, step_uuid, state, pending_parents, step_type, handler, max_attempts, timeout_ms, inputs
     FROM tasker.workflow_steps WHERE task_uuid = $1`,
    [task],
  );
  return Object.fromEntries(res.rows.map((r) => [r.name, r]));
}

/** The task's edges as `from->to` step names. */
async function edges(c: pg.PoolClient, task: string): Promise<string[]> {
  const res = await c.query<{ e: string }>(
    `SELECT f.name || '->' || t.name AS e FROM tasker.workflow_step_edges e
     JOIN tasker.workflow_steps f ON f.step_uuid = e.from_step_uuid
     JOIN tasker.workflow_steps t ON t.step_uuid = e.to_step_uuid
     WHERE t.task_uuid = $1 ORDER BY 1`,
    [task],
  );
  return res.rows.map((r) => r.e);
}

/** The task's audit rows as `name:from>to:event:sort_key[:last]:processor` (`last`: the step's current row). */
async function audit(c: pg.PoolClient, task: string): Promise<string[]> {
  const res = await c.query<{ a: string }>(
    `SELECT s.name || ':' || coalesce(x.from_state, '') || '>' || x.to_state || ':' || x.event || ':' || x.sort_key
              || CASE WHEN x.sort_key = max(x.sort_key) OVER (PARTITION BY x.step_uuid) THEN ':last' ELSE '' END
              || ':' || x.processor AS a
     FROM tasker.workflow_step_transitions x JOIN tasker.workflow_steps s ON s.step_uuid = x.step_uuid
     WHERE s.task_uuid = $1 ORDER BY 1`,
    [task],
  );
  return res.rows.map((r) => r.a);
}

async function messages(c: pg.PoolClient, task: string): Promise<{ queue_name: string; message: unknown }[]> {
  const res = await c.query<{ queue_name: string; message: unknown }>(
    `SELECT queue_name, message FROM tasker.queue_messages WHERE message->>'task_uuid' = $1 ORDER BY msg_id`,
    [task],
  );
  return res.rows;
}

describe('create_task_steps', () => {
  it('creates every step with its given uuid: roots enqueued, the rest pending on their parent count', () =>
    inRollback(async (c) => {
      const { task, uuid } = await stepsOf(c, decision);
      const steps = await rows(c, task);
      expect(Object.keys(steps).sort()).toEqual(['a', 'b', 'c', 'join', 'route']);
      for (const [name, step] of Object.entries(steps)) expect(step.step_uuid, name).toBe(uuid[name]);
      expect(steps).toMatchObject({
        route: { state: 'enqueued', pending_parents: 0, step_type: 'decision' },
        a: { state: 'pending', pending_parents: 1, step_type: 'standard' },
        b: { state: 'pending', pending_parents: 1, step_type: 'standard' },
        c: { state: 'pending', pending_parents: 1, step_type: 'standard' },
        join: { state: 'pending', pending_parents: 2, step_type: 'deferred_convergence' },
      });
      expect(await edges(c, task)).toEqual(['a->c', 'a->join', 'b->join', 'route->a', 'route->b']);
    }));

  it('copies each step definition from the template', () =>
    inRollback(async (c) => {
      const { task } = await stepsOf(c, twoRoots);
      expect(await rows(c, task)).toMatchObject({
        left: { handler: 'h.left', max_attempts: 4, timeout_ms: 5000, inputs: { side: 'l' } },
        right: { handler: 'h.right', timeout_ms: null },
      });
    }));

  it('audits each step: Create into pending, then Enqueue for a root, each trail ending in the step state', () =>
    inRollback(async (c) => {
      const { task } = await stepsOf(c, twoRoots);
      expect(await audit(c, task)).toEqual([
        `both:>pending:${CREATE_EVENT}:1:last:test`,
        `left:>pending:${CREATE_EVENT}:1:test`,
        'left:pending>enqueued:Enqueue:2:last:test',
        `right:>pending:${CREATE_EVENT}:1:test`,
        'right:pending>enqueued:Enqueue:2:last:test',
      ]);
    }));

  it("sends one message per root step to the namespace's worker queue, and none for the others", () =>
    inRollback(async (c) => {
      const { task, correlation, uuid } = await stepsOf(c, twoRoots);
      const queue = workerQueueName(twoRoots.namespace);
      expect(
        (await messages(c, task)).sort((x, y) => JSON.stringify(x).localeCompare(JSON.stringify(y))),
      ).toEqual(
        [uuid.left, uuid.right]
          .map((step) => ({
            queue_name: queue,
            message: { task_uuid: task, step_uuid: step, correlation_id: correlation },
          }))
          .sort((x, y) => JSON.stringify(x).localeCompare(JSON.stringify(y))),
      );
    }));

  it('adds the trace context to the messages and back-dates them by the head start', () =>
    inRollback(async (c) => {
      const trace = { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' };
      const { task, correlation, uuid } = await stepsOf(c, decision, { trace, headStartMs: 60_000 });
      const res = await c.query<{ message: unknown; back_dated: boolean }>(
        `SELECT message, vt = now() - interval '60 seconds' AS back_dated
         FROM tasker.queue_messages WHERE message->>'task_uuid' = $1`,
        [task],
      );
      expect(res.rows).toEqual([
        {
          message: { task_uuid: task, step_uuid: uuid.route, correlation_id: correlation, ...trace },
          back_dated: true,
        },
      ]);
    }));

  it('creates no batch_worker blueprint; a dependency on one is an edge from its batchable step', () =>
    inRollback(async (c) => {
      const { task } = await stepsOf(c, batch);
      expect(await rows(c, task)).toMatchObject({
        analyze: { state: 'enqueued', step_type: 'batchable' },
        aggregate: { state: 'pending', pending_parents: 1, step_type: 'deferred_convergence' },
      });
      expect(Object.keys(await rows(c, task)).sort()).toEqual(['aggregate', 'analyze']);
      expect(await edges(c, task)).toEqual(['analyze->aggregate']);
    }));
});
