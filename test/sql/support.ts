/**
 * SQL-level tests of single engine functions: each test runs in a transaction that is rolled back, on the file's
 * own database, with tasks made by the real create_task and step rows put into the state the test needs.
 */
import type pg from 'pg';
import { afterAll, beforeAll, expect } from 'vitest';
import { stepUuidFor } from '../../src/contract/step-uuid.js';
import { createTask } from '../../src/orchestration/task-creator.js';
import { registerTemplate } from '../../src/orchestration/template-registry.js';
import type { TaskTemplate } from '../../src/templates/types.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';

/** A database for this file, and a way to run a test body in a transaction that is always rolled back. */
export function sqlTestDatabase(): { inRollback: <T>(fn: (c: pg.PoolClient) => Promise<T>) => Promise<T> } {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await db?.drop();
  });
  return {
    async inRollback<T>(fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
      const client = await db.pool.connect();
      try {
        await client.query('BEGIN');
        return await fn(client);
      } finally {
        await client.query('ROLLBACK');
        client.release();
      }
    },
  };
}

/** Registers the template and creates one task of it; returns the task and its step uuids by name. */
export async function taskOf(
  c: pg.PoolClient,
  template: TaskTemplate,
): Promise<{ task: string; step: (name: string) => string }> {
  await registerTemplate(c, template);
  const { taskUuid } = await createTask(c, {
    namespace: template.namespace,
    name: template.name,
    context: {},
  });
  const rows = await c.query<{ name: string; step_uuid: string }>(
    'SELECT name, step_uuid FROM tasker.workflow_steps WHERE task_uuid = $1',
    [taskUuid],
  );
  const byName = new Map(rows.rows.map((r) => [r.name, r.step_uuid]));
  return {
    task: taskUuid,
    step: (name) => {
      const uuid = byName.get(name);
      if (!uuid) throw new Error(`no step ${name}`);
      return uuid;
    },
  };
}

/** Walks a step through `path` (each state audited, event `Test`), ending in its last state. */
export async function walk(c: pg.PoolClient, step: string, path: readonly string[]): Promise<void> {
  for (const state of path) {
    await c.query(`SELECT tasker.log_step_transitions(ARRAY[$1]::uuid[], $2, 'Test', 'test')`, [step, state]);
  }
  await c.query(`UPDATE tasker.workflow_steps SET state = $2 WHERE step_uuid = $1`, [step, path.at(-1)]);
}

/**
 * Puts a step where a worker's completion would: waiting for orchestration with these results, its audit trail
 * walked there through the allowed transitions (enqueued, in_progress, then the outcome's state).
 */
export async function finished(
  c: pg.PoolClient,
  step: string,
  results: { success: boolean; result?: unknown; error?: Record<string, unknown> },
  attempts = 1,
): Promise<void> {
  const to = results.success ? 'enqueued_for_orchestration' : 'enqueued_as_error_for_orchestration';
  const current = await c.query<{ state: string }>(
    'SELECT state FROM tasker.workflow_steps WHERE step_uuid = $1',
    [step],
  );
  await walk(c, step, [...(current.rows[0]?.state === 'pending' ? ['enqueued'] : []), 'in_progress', to]);
  await c.query(`UPDATE tasker.workflow_steps SET attempts = $2, results = $3 WHERE step_uuid = $1`, [
    step,
    attempts,
    JSON.stringify({ result: null, ...results }),
  ]);
}

/** The uuid of each step of a task by name (batch workers included, once they exist). */
export async function stepUuids(c: pg.PoolClient, task: string): Promise<Record<string, string>> {
  const rows = await c.query<{ name: string; step_uuid: string }>(
    'SELECT name, step_uuid FROM tasker.workflow_steps WHERE task_uuid = $1',
    [task],
  );
  return Object.fromEntries(rows.rows.map((r) => [r.name, r.step_uuid]));
}

/**
 * A step's audit trail as its `to_state`s in order, after checking that it is one unbroken chain: sort keys
 * 1..n, each row leaving the state the previous one entered, the last one entering the step's current state.
 */
export async function checkedTrail(c: pg.PoolClient, step: string): Promise<string[]> {
  const res = await c.query<{ sort_key: number; from_state: string | null; to_state: string; state: string }>(
    `SELECT t.sort_key, t.from_state, t.to_state, s.state FROM tasker.workflow_step_transitions t
     JOIN tasker.workflow_steps s ON s.step_uuid = t.step_uuid WHERE t.step_uuid = $1 ORDER BY t.sort_key`,
    [step],
  );
  res.rows.forEach((r, i) => {
    expect(r.sort_key, `${step} row ${i + 1}`).toBe(i + 1);
    expect(r.from_state, `${step} row ${i + 1}`).toBe(i === 0 ? null : res.rows[i - 1]!.to_state);
  });
  expect(res.rows.at(-1)?.to_state, `${step}: the last row is its state`).toBe(res.rows[0]?.state);
  return res.rows.map((r) => r.to_state);
}

/** A step's most recent audit row (its last by sort key). */
export async function lastTransition(
  c: pg.PoolClient,
  step: string,
): Promise<{
  from_state: string | null;
  to_state: string;
  event: string;
  processor: string;
  metadata: unknown;
}> {
  const res = await c.query<{
    from_state: string | null;
    to_state: string;
    event: string;
    processor: string;
    metadata: unknown;
  }>(
    `SELECT from_state, to_state, event, processor, metadata FROM tasker.workflow_step_transitions
     WHERE step_uuid = $1 ORDER BY sort_key DESC LIMIT 1`,
    [step],
  );
  expect(res.rowCount, `a transition of ${step}`).toBe(1);
  return res.rows[0]!;
}

/** The state of each named step. */
export async function states(c: pg.PoolClient, task: string): Promise<Record<string, string>> {
  const rows = await c.query<{ name: string; state: string }>(
    'SELECT name, state FROM tasker.workflow_steps WHERE task_uuid = $1 ORDER BY name',
    [task],
  );
  return Object.fromEntries(rows.rows.map((r) => [r.name, r.state]));
}

/**
 * Everything the engine recorded about a task, without uuids and times: steps, their audit trails, the task's
 * counters and trail, dead letters, its messages, and the domain events published in its namespace.
 */
export async function taskPicture(c: pg.PoolClient, task: string): Promise<unknown> {
  const one = async (sql: string): Promise<unknown[]> =>
    (await c.query<Record<string, unknown>>(sql, [task])).rows;
  return {
    steps: await one(
      `SELECT name, state, attempts, pending_parents, results, processed_at IS NOT NULL AS processed,
              last_attempted_at IS NOT NULL AS attempted
       FROM tasker.workflow_steps WHERE task_uuid = $1 ORDER BY name`,
    ),
    trails: await one(
      `SELECT s.name, t.sort_key, t.from_state, t.to_state, t.event, t.processor, t.metadata
       FROM tasker.workflow_step_transitions t JOIN tasker.workflow_steps s USING (step_uuid)
       WHERE s.task_uuid = $1 ORDER BY s.name, t.sort_key`,
    ),
    task: await one(
      `SELECT state, steps_remaining, steps_in_flight, error - 'step_uuid' AS error, completed_at IS NOT NULL AS done
       FROM tasker.tasks WHERE task_uuid = $1`,
    ),
    taskTrail: await one(
      `SELECT sort_key, from_state, to_state, event, processor FROM tasker.task_transitions
       WHERE task_uuid = $1 ORDER BY sort_key`,
    ),
    deadLetters: await one(`SELECT count(*)::int AS n FROM tasker.tasks_dlq WHERE task_uuid = $1`),
    messages: await one(
      `SELECT count(*)::int AS n FROM tasker.queue_messages WHERE message->>'task_uuid' = $1::text`,
    ),
    events: await one(
      `SELECT m.queue_name, m.message FROM tasker.queue_messages m
       WHERE m.queue_name = (SELECT tasker.domain_events_queue_name(t.namespace) FROM tasker.tasks t
                             WHERE t.task_uuid = $1)
       ORDER BY m.msg_id`,
    ),
  };
}

/** One result of a complete_steps payload. */
export interface ResultEntry {
  step_uuid: string;
  msg_id: string | null;
  attempt: number;
  success: boolean;
  results: unknown;
  chained?: boolean;
  handler?: string;
  events?: unknown[];
}

/** The success of a step a worker ran right after its parent, unclaimed (ADR 0011): handler `h`, attempt 1. */
export function chainedEntry(task: string, name: string, over: Partial<ResultEntry> = {}): ResultEntry {
  return {
    step_uuid: stepUuidFor(task, name),
    msg_id: null,
    attempt: 1,
    success: true,
    results: { success: true, result: name },
    chained: true,
    handler: 'h',
    ...over,
  };
}
