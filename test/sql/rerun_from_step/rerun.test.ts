/**
 * tasker.rerun_from_step on its own, in rolled-back transactions: tasks are driven to the state a test needs by
 * the real resolution (resolve_steps) of results put where a worker would put them.
 */
import type pg from 'pg';
import { describe, expect, it } from 'vitest';
import { defineTemplate } from '../../../src/templates/index.js';
import { finished, sqlTestDatabase, states, taskOf } from '../support.js';
import { batch, chain, decision } from '../templates.js';

const { inRollback } = sqlTestDatabase();

const linear4 = defineTemplate({ namespace: 'sql_rerun', name: 'linear4', version: '1.0.0' })
  .step('s1', { handler: 'h' })
  .step('s2', { handler: 'h', dependsOn: ['s1'] })
  .step('s3', { handler: 'h', dependsOn: ['s2'] })
  .step('s4', { handler: 'h', dependsOn: ['s3'] })
  .build();

/** a -> b, a -> c: two branches, so one can run while the other failed. */
const fork = defineTemplate({ namespace: 'sql_rerun', name: 'fork', version: '1.0.0' })
  .step('a', { handler: 'h' })
  .step('b', { handler: 'h', dependsOn: ['a'], retry: { maxAttempts: 1 } })
  .step('c', { handler: 'h', dependsOn: ['a'] })
  .build();

/** Settles one step with this outcome through the real resolution, as a worker's result would be. */
async function settle(
  c: pg.PoolClient,
  step: string,
  results: { success: boolean; result?: unknown; error?: Record<string, unknown> } = {
    success: true,
    result: { ok: true },
  },
): Promise<void> {
  await finished(c, step, results);
  // A worker's completion deletes the step's message (complete_steps).
  await c.query(`DELETE FROM tasker.queue_messages WHERE message->>'step_uuid' = $1`, [step]);
  await c.query(`SELECT * FROM tasker.resolve_steps(ARRAY[$1]::uuid[], 'test')`, [step]);
}

async function rerun(c: pg.PoolClient, task: string, step: string, reason: string | null = 'fix') {
  const res = await c.query<{
    step_state: string;
    task_state: string;
    steps_reset: number;
    steps_removed: number;
  }>(`SELECT * FROM tasker.rerun_from_step($1, $2, $3, 'ops', 'test')`, [task, step, reason]);
  return res.rows[0]!;
}

async function taskRow(c: pg.PoolClient, task: string) {
  const res = await c.query<{
    state: string;
    steps_total: number;
    steps_remaining: number;
    steps_in_flight: number;
    completed_at: Date | null;
    error: unknown;
  }>(
    'SELECT state, steps_total, steps_remaining, steps_in_flight, completed_at, error FROM tasker.tasks WHERE task_uuid = $1',
    [task],
  );
  return res.rows[0]!;
}

async function stepRow(c: pg.PoolClient, step: string) {
  const res = await c.query<{
    state: string;
    attempts: number;
    results: unknown;
    pending_parents: number;
    skipped_parents: number;
  }>(
    'SELECT state, attempts, results, pending_parents, skipped_parents FROM tasker.workflow_steps WHERE step_uuid = $1',
    [step],
  );
  return res.rows[0]!;
}

/** The SQLSTATE a statement fails with (inside a savepoint, so the test's transaction goes on). */
async function sqlstate(c: pg.PoolClient, run: () => Promise<unknown>): Promise<string> {
  await c.query('SAVEPOINT probe');
  try {
    await run();
    return 'none';
  } catch (e) {
    return (e as { code: string }).code;
  } finally {
    await c.query('ROLLBACK TO SAVEPOINT probe');
  }
}

async function messagesFor(c: pg.PoolClient, step: string): Promise<number> {
  const res = await c.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM tasker.queue_messages WHERE message->>'step_uuid' = $1`,
    [step],
  );
  return res.rows[0]!.n;
}

describe('rerun_from_step', () => {
  it('re-runs the step and everything below it; the steps above keep their results', () =>
    inRollback(async (c) => {
      const t = await taskOf(c, linear4);
      for (const s of ['s1', 's2', 's3', 's4']) await settle(c, t.step(s), { success: true, result: { s } });
      expect((await taskRow(c, t.task)).state).toBe('complete');

      const out = await rerun(c, t.task, t.step('s2'));
      expect(out).toEqual({
        step_state: 'enqueued',
        task_state: 'steps_in_process',
        steps_reset: 3,
        steps_removed: 0,
      });
      expect(await states(c, t.task)).toEqual({
        s1: 'complete',
        s2: 'enqueued',
        s3: 'pending',
        s4: 'pending',
      });
      expect((await stepRow(c, t.step('s1'))).results).toMatchObject({ success: true, result: { s: 's1' } });
      for (const s of ['s3', 's4']) {
        expect(await stepRow(c, t.step(s))).toMatchObject({ attempts: 0, results: null, pending_parents: 1 });
      }
      expect(await messagesFor(c, t.step('s2'))).toBe(1);
      expect(await taskRow(c, t.task)).toMatchObject({
        state: 'steps_in_process',
        steps_total: 4,
        steps_remaining: 3,
        steps_in_flight: 1,
        completed_at: null,
      });

      // Audit: the task's Rerun hop, and each reset step's Rerun row with what it had.
      const taskHops = await c.query<{
        from_state: string;
        to_state: string;
        event: string;
        metadata: unknown;
      }>(
        `SELECT from_state, to_state, event, metadata FROM tasker.task_transitions WHERE task_uuid = $1
         ORDER BY sort_key DESC LIMIT 3`,
        [t.task],
      );
      expect(taskHops.rows.reverse().map((r) => `${r.from_state}>${r.to_state}:${r.event}`)).toEqual([
        'complete>evaluating_results:Rerun',
        'evaluating_results>enqueuing_steps:ReadyStepsFound',
        'enqueuing_steps>steps_in_process:StepsEnqueued',
      ]);
      expect(taskHops.rows[0]!.metadata).toMatchObject({
        action: 'rerun_from',
        reason: 'fix',
        by: 'ops',
        origin_step_uuid: t.step('s2'),
        origin_step_name: 's2',
        steps_reset: 3,
      });
      const stepHops = await c.query<{ name: string; from_state: string; metadata: Record<string, unknown> }>(
        `SELECT s.name, st.from_state, st.metadata FROM tasker.workflow_step_transitions st
         JOIN tasker.workflow_steps s ON s.step_uuid = st.step_uuid
         WHERE s.task_uuid = $1 AND st.event = 'Rerun' ORDER BY s.name`,
        [t.task],
      );
      expect(stepHops.rows.map((r) => r.name)).toEqual(['s2', 's3', 's4']);
      expect(stepHops.rows[1]).toMatchObject({
        from_state: 'complete',
        metadata: {
          action: 'rerun_from',
          origin_step_name: 's2',
          previous_state: 'complete',
          previous_attempts: 1,
          previous_results: { success: true, result: { s: 's3' } },
        },
      });

      // The steps run again and the task completes again.
      for (const s of ['s2', 's3', 's4']) await settle(c, t.step(s));
      expect(await taskRow(c, t.task)).toMatchObject({ state: 'complete', steps_remaining: 0 });
      expect((await taskRow(c, t.task)).completed_at).not.toBeNull();
    }));

  it('refuses unknown tasks and steps, a missing reason, cancelled and running tasks, and running steps below', () =>
    inRollback(async (c) => {
      const t = await taskOf(c, linear4);
      const other = await taskOf(c, linear4);
      // The task is still running (s1 enqueued).
      expect(await sqlstate(c, () => rerun(c, t.task, t.step('s1')))).toBe('TK410');
      expect(await sqlstate(c, () => rerun(c, t.task, other.step('s1')))).toBe('TK406');
      expect(await sqlstate(c, () => rerun(c, other.step('s1'), t.step('s1')))).toBe('TK405');
      expect(await sqlstate(c, () => rerun(c, t.task, t.step('s1'), ' '))).toBe('TK422');
      expect(await sqlstate(c, () => rerun(c, t.task, t.step('s1'), null))).toBe('TK422');
      await c.query(`SELECT * FROM tasker.cancel_task($1, 'stop', 'ops', 'test')`, [other.task]);
      expect(await sqlstate(c, () => rerun(c, other.task, other.step('s1')))).toBe('TK410');

      // a done, b failed for good while c runs: the task is blocked; c is below a, not below b.
      const f = await taskOf(c, fork);
      await settle(c, f.step('a'));
      await c.query(
        `UPDATE tasker.workflow_steps SET state = 'in_progress', attempts = 1 WHERE step_uuid = $1`,
        [f.step('c')],
      );
      await settle(c, f.step('b'), { success: false, error: { message: 'boom', retryable: false } });
      expect((await taskRow(c, f.task)).state).toBe('blocked_by_failures');
      let message = '';
      await c.query('SAVEPOINT probe');
      try {
        await rerun(c, f.task, f.step('a'));
      } catch (e) {
        message = (e as Error).message;
      }
      await c.query('ROLLBACK TO SAVEPOINT probe');
      expect(message).toMatch(/1 step\(s\) below a are running: c \(in_progress\)/);

      // Re-running b alone is fine: the task goes back to running b (c still runs).
      expect(await rerun(c, f.task, f.step('b'))).toEqual({
        step_state: 'enqueued',
        task_state: 'steps_in_process',
        steps_reset: 1,
        steps_removed: 0,
      });
      expect((await taskRow(c, f.task)).error).toBeNull();
    }));

  it('a failed task: the open dead-letter entry is closed and the failed step runs again', () =>
    inRollback(async (c) => {
      const t = await taskOf(c, chain);
      await settle(c, t.step('first'));
      await settle(c, t.step('second'), { success: false, error: { message: 'no', retryable: false } });
      expect((await taskRow(c, t.task)).state).toBe('error');
      const out = await rerun(c, t.task, t.step('first'));
      expect(out.task_state).toBe('steps_in_process');
      expect(await states(c, t.task)).toEqual({ first: 'enqueued', second: 'pending' });
      const dlq = await c.query<{ resolution_status: string; resolution_notes: string; resolved_by: string }>(
        'SELECT resolution_status, resolution_notes, resolved_by FROM tasker.tasks_dlq WHERE task_uuid = $1',
        [t.task],
      );
      expect(dlq.rows).toEqual([
        {
          resolution_status: 'manually_resolved',
          resolution_notes: 'task re-run from step first by an operator',
          resolved_by: 'ops',
        },
      ]);
    }));

  it('decisions: a re-run above the decision re-decides; below it, unchosen branches stay skipped', () =>
    inRollback(async (c) => {
      const t = await taskOf(c, decision);
      const chooseA = { decision_point_outcome: { type: 'create_steps', step_names: ['a'] } };
      await settle(c, t.step('route'), { success: true, result: chooseA });
      for (const s of ['a', 'c', 'join']) await settle(c, t.step(s));
      expect((await taskRow(c, t.task)).state).toBe('complete');
      expect((await states(c, t.task)).b).toBe('skipped');

      // From a: b stays skipped (the decision above did not choose it); join waits for a only.
      expect((await rerun(c, t.task, t.step('a'))).steps_reset).toBe(3);
      expect(await states(c, t.task)).toEqual({
        a: 'enqueued',
        b: 'skipped',
        c: 'pending',
        join: 'pending',
        route: 'complete',
      });
      expect(await stepRow(c, t.step('join'))).toMatchObject({ pending_parents: 1, skipped_parents: 1 });
      expect((await taskRow(c, t.task)).steps_remaining).toBe(3);
      for (const s of ['a', 'c', 'join']) await settle(c, t.step(s));
      expect((await taskRow(c, t.task)).state).toBe('complete');

      // b itself was skipped by the decision: re-run from the decision instead.
      expect(await sqlstate(c, () => rerun(c, t.task, t.step('b')))).toBe('TK410');

      // From the decision: every branch is reset, and the new decision picks b this time.
      expect((await rerun(c, t.task, t.step('route'))).steps_reset).toBe(5);
      expect(await states(c, t.task)).toEqual({
        a: 'pending',
        b: 'pending',
        c: 'pending',
        join: 'pending',
        route: 'enqueued',
      });
      expect(await stepRow(c, t.step('join'))).toMatchObject({ pending_parents: 2, skipped_parents: 0 });
      const chooseB = { decision_point_outcome: { type: 'create_steps', step_names: ['b'] } };
      await settle(c, t.step('route'), { success: true, result: chooseB });
      expect(await states(c, t.task)).toMatchObject({ a: 'skipped', b: 'enqueued', c: 'skipped' });
      for (const s of ['b', 'join']) await settle(c, t.step(s));
      expect((await taskRow(c, t.task)).state).toBe('complete');
    }));

  it('batches: the batchable step re-expands; a batch instance re-runs with its fail_fast-cancelled siblings', () =>
    inRollback(async (c) => {
      const t = await taskOf(c, batch);
      const outcome = { batch_processing_outcome: { type: 'create_batches', total_items: 25 } };
      await settle(c, t.step('analyze'), { success: true, result: outcome });
      const instances = async () =>
        (
          await c.query<{ step_uuid: string; name: string }>(
            `SELECT step_uuid, name FROM tasker.workflow_steps WHERE task_uuid = $1 AND step_type = 'batch_worker'
             ORDER BY name`,
            [t.task],
          )
        ).rows;
      const first = await instances();
      expect(first.map((r) => r.name)).toEqual(['process_000', 'process_001', 'process_002']);
      // process_000 fails for good: fail_fast cancels the other two (never started).
      await settle(c, first[0]!.step_uuid, {
        success: false,
        error: { message: 'bad row', retryable: false },
      });
      expect((await taskRow(c, t.task)).state).toBe('error');
      expect(await states(c, t.task)).toMatchObject({ process_001: 'cancelled', process_002: 'cancelled' });

      // From the failed instance: it and its cancelled siblings run again; the aggregate waits for all three.
      const out = await rerun(c, t.task, first[0]!.step_uuid);
      expect(out).toMatchObject({ task_state: 'steps_in_process', steps_reset: 4, steps_removed: 0 });
      expect(await states(c, t.task)).toEqual({
        aggregate: 'pending',
        analyze: 'complete',
        process_000: 'enqueued',
        process_001: 'enqueued',
        process_002: 'enqueued',
      });
      expect((await stepRow(c, t.step('aggregate'))).pending_parents).toBe(3);
      for (const r of first) expect(await messagesFor(c, r.step_uuid)).toBe(1);
      for (const r of first) await settle(c, r.step_uuid);
      await settle(c, t.step('aggregate'));
      expect((await taskRow(c, t.task)).state).toBe('complete');

      // From the batchable step: its instances are removed (with their audit rows) and it expands again.
      const again = await rerun(c, t.task, t.step('analyze'));
      expect(again).toMatchObject({ steps_reset: 2, steps_removed: 3 });
      expect(await instances()).toEqual([]);
      expect(await taskRow(c, t.task)).toMatchObject({ steps_total: 2, steps_remaining: 2 });
      expect((await stepRow(c, t.step('aggregate'))).pending_parents).toBe(1);
      const orphans = await c.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM tasker.workflow_step_transitions WHERE step_uuid = ANY($1)',
        [first.map((r) => r.step_uuid)],
      );
      expect(orphans.rows[0]!.n).toBe(0);
      // No foreign key cascades (ADR 0012): the instances' edges went with them, at both ends.
      const edges = await c.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM tasker.workflow_step_edges
         WHERE from_step_uuid = ANY($1) OR to_step_uuid = ANY($1)`,
        [first.map((r) => r.step_uuid)],
      );
      expect(edges.rows[0]!.n).toBe(0);
      const smaller = { batch_processing_outcome: { type: 'create_batches', total_items: 15 } };
      await settle(c, t.step('analyze'), { success: true, result: smaller });
      const second = await instances();
      expect(second.map((r) => r.name)).toEqual(['process_000', 'process_001']);
      for (const r of second) await settle(c, r.step_uuid);
      await settle(c, t.step('aggregate'));
      expect(await taskRow(c, t.task)).toMatchObject({
        state: 'complete',
        steps_total: 4,
        steps_remaining: 0,
      });
    }));
});
