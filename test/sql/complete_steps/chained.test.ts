/**
 * Chained steps (ADR 0011): a worker that ran a step's dependents locally right after it sends their successes
 * with the claimed result, marked `chained`; complete_steps starts them (start_chained_steps) and settles the
 * whole chain in one transaction, or refuses them like stale attempts when they may not run. Each test runs in a
 * rolled-back transaction.
 */
import type pg from 'pg';
import { describe, expect, it } from 'vitest';
import { workerQueueName } from '../../../src/contract/names.js';
import { stepUuidFor } from '../../../src/contract/step-uuid.js';
import { defineTemplate } from '../../../src/templates/index.js';
import { chainedEntry, checkedTrail, sqlTestDatabase, taskOf, type ResultEntry } from '../support.js';
import { chain3, diamond4, partsNamespace } from '../templates.js';

const ns = partsNamespace;
const QUEUE = workerQueueName(ns);
const chain = chain3;
const diamond = diamond4;

const fork = defineTemplate({ namespace: ns, name: 'fork', version: '1.0.0' })
  .step('root', { handler: 'h' })
  .step('x', { handler: 'h', dependsOn: ['root'] })
  .step('y', { handler: 'h', dependsOn: ['root'] })
  .step('z', { handler: 'h', dependsOn: ['root'] })
  .build();

const { inRollback } = sqlTestDatabase();

type Entry = ResultEntry;
const chained = chainedEntry;

async function claimRoot(c: pg.PoolClient): Promise<Entry> {
  const res = await c.query<{ msg_id: string; step_uuid: string; attempt: number }>(
    'SELECT msg_id, step_uuid, attempt FROM tasker.claim_steps($1, 10, 30, $2)',
    [QUEUE, 'w1'],
  );
  expect(res.rowCount).toBe(1);
  const r = res.rows[0]!;
  return { ...r, msg_id: String(r.msg_id), success: true, results: { success: true, result: 'root' } };
}

async function complete(
  c: pg.PoolClient,
  entries: Entry[],
): Promise<{ applied: Map<string, boolean>; claimed: { step_name: string }[] }> {
  const res = await c.query<{ step_uuid: string; applied: boolean; claimed: { step_name: string }[] | null }>(
    'SELECT step_uuid, applied, claimed FROM tasker.complete_steps($1, $2, true, $3, 5, 30)',
    [JSON.stringify(entries), 'w1', [QUEUE]],
  );
  return {
    applied: new Map(res.rows.map((r) => [r.step_uuid, r.applied])),
    claimed: res.rows[0]?.claimed ?? [],
  };
}

async function states(c: pg.PoolClient, task: string): Promise<Record<string, string>> {
  const res = await c.query<{ name: string; state: string; attempts: number }>(
    'SELECT name, state, attempts FROM tasker.workflow_steps WHERE task_uuid = $1',
    [task],
  );
  return Object.fromEntries(res.rows.map((r) => [r.name, `${r.state}@${r.attempts}`]));
}

const trail = checkedTrail;

async function taskCounters(c: pg.PoolClient, task: string): Promise<unknown> {
  const res = await c.query(
    'SELECT state, steps_in_flight, steps_remaining FROM tasker.tasks WHERE task_uuid = $1',
    [task],
  );
  return res.rows[0];
}

let chainedOutcome: unknown;

describe('step uuids', () => {
  it('are the ones stepUuidFor derives from the task uuid and step name', async () => {
    await inRollback(async (c) => {
      const t = await taskOf(c, diamond);
      for (const name of ['top', 'left', 'right', 'bottom']) {
        expect(t.step(name)).toBe(stepUuidFor(t.task, name));
      }
      const sql = await c.query<{ u: string }>('SELECT tasker.step_uuid_for($1, $2) AS u', [t.task, 'left']);
      expect(sql.rows[0]!.u).toBe(t.step('left'));
      // a well-formed UUID: the task's version 7 nibble and the RFC 4122 variant
      expect(t.step('left')).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    });
  });
});

describe('complete_steps with chained steps', () => {
  it('settles a claimed step and its chain in one call, leaving what one call per step leaves', async () => {
    await inRollback(async (c) => {
      const t = await taskOf(c, chain);
      const root = await claimRoot(c);
      const done = await complete(c, [root, chained(t.task, 'b'), chained(t.task, 'c')]);
      expect([...done.applied.values()]).toEqual([true, true, true]);
      expect(done.claimed).toEqual([]);
      expect(await states(c, t.task)).toEqual({ a: 'complete@1', b: 'complete@1', c: 'complete@1' });
      const task = await c.query<{ state: string; steps_in_flight: number; steps_remaining: number }>(
        'SELECT state, steps_in_flight, steps_remaining FROM tasker.tasks WHERE task_uuid = $1',
        [t.task],
      );
      expect(task.rows[0]).toEqual({ state: 'complete', steps_in_flight: 0, steps_remaining: 0 });
      const full = ['pending', 'enqueued', 'in_progress', 'enqueued_for_orchestration', 'complete'];
      for (const name of ['a', 'b', 'c']) expect(await trail(c, t.step(name))).toEqual(full);
      const msgs = await c.query('SELECT 1 FROM tasker.queue_messages WHERE queue_name = $1', [QUEUE]);
      expect(msgs.rowCount).toBe(0);
      const results = await c.query<{ r: unknown }>(
        `SELECT results->'result' AS r FROM tasker.workflow_steps WHERE step_uuid = $1`,
        [t.step('c')],
      );
      expect(results.rows[0]!.r).toBe('c');
    });
  });

  it('settles a diamond whose join waited for two chained parents', async () => {
    await inRollback(async (c) => {
      const t = await taskOf(c, diamond);
      const root = await claimRoot(c);
      const entries = [root, ...['left', 'right', 'bottom'].map((n) => chained(t.task, n))];
      const done = await complete(c, entries);
      expect([...done.applied.values()].every(Boolean)).toBe(true);
      expect(Object.values(await states(c, t.task))).toEqual(Array(4).fill('complete@1'));
    });
  });

  it('claims for the caller the released steps it is running chained, beyond its claim limit', async () => {
    await inRollback(async (c) => {
      const t = await taskOf(c, fork);
      const root = await claimRoot(c);
      // x and z run here, chained, their outcomes not written yet; the caller has no room for new claims.
      const res = await c.query<{ claimed: { step_name: string; attempt: number }[] | null }>(
        'SELECT claimed FROM tasker.complete_steps($1, $2, true, $3, 0, 30, $4)',
        [JSON.stringify([root]), 'w1', [QUEUE], [t.step('x'), t.step('z')]],
      );
      const claimed = res.rows[0]!.claimed ?? [];
      expect(claimed.map((s) => [s.step_name, s.attempt]).sort()).toEqual([
        ['x', 1],
        ['z', 1],
      ]);
      expect(await states(c, t.task)).toEqual({
        root: 'complete@1',
        x: 'in_progress@1',
        y: 'enqueued@0',
        z: 'in_progress@1',
      });
      expect(await taskCounters(c, t.task)).toEqual({
        state: 'steps_in_process',
        steps_in_flight: 3,
        steps_remaining: 3,
      });
      // Their outcomes are then ordinary claimed results.
      const [x] = claimed.filter((s) => s.step_name === 'x') as unknown as Entry[];
      const written = await complete(c, [{ ...x!, success: true, results: { success: true, result: 'x' } }]);
      expect([...written.applied.values()]).toEqual([true]);
      expect(await checkedTrail(c, t.step('x'))).toEqual([
        'pending',
        'enqueued',
        'in_progress',
        'enqueued_for_orchestration',
        'complete',
      ]);
    });
  });

  it('refuses a chain whose link is missing; what the applied results released is claimed as usual', async () => {
    await inRollback(async (c) => {
      const t = await taskOf(c, chain);
      const root = await claimRoot(c);
      const done = await complete(c, [root, chained(t.task, 'c')]);
      expect(done.applied.get(root.step_uuid)).toBe(true);
      expect(done.applied.get(t.step('c'))).toBe(false);
      expect(done.claimed.map((s) => s.step_name)).toEqual(['b']);
      expect(await states(c, t.task)).toEqual({ a: 'complete@1', b: 'in_progress@1', c: 'pending@0' });
    });
  });

  it('refuses a chained step after a stale parent, another handler, or in a batch with a failure', async () => {
    await inRollback(async (c) => {
      const t = await taskOf(c, chain);
      const root = await claimRoot(c);
      // A refused link refuses everything chained below it, however deep.
      const stale = await complete(c, [{ ...root, attempt: 2 }, chained(t.task, 'b'), chained(t.task, 'c')]);
      expect([...stale.applied.values()]).toEqual([false, false, false]);
      const other = await complete(c, [
        root,
        chained(t.task, 'b', { handler: 'other' }),
        chained(t.task, 'c'),
      ]);
      expect(other.applied.get(root.step_uuid)).toBe(true);
      expect(other.applied.get(t.step('b'))).toBe(false);
      expect(other.applied.get(t.step('c'))).toBe(false);
      expect(await states(c, t.task)).toEqual({ a: 'complete@1', b: 'in_progress@1', c: 'pending@0' });
    });
    await inRollback(async (c) => {
      const t = await taskOf(c, chain);
      const root = await claimRoot(c);
      const failed = { ...root, success: false, results: { success: false, error: { retryable: false } } };
      const done = await complete(c, [failed, chained(t.task, 'b')]);
      expect(done.applied.get(root.step_uuid)).toBe(true);
      expect(done.applied.get(t.step('b'))).toBe(false);
      expect((await states(c, t.task)).b).toBe('pending@0');
    });
  });

  it('records a chained failure as the attempt it was, on the general path, retried as usual', async () => {
    await inRollback(async (c) => {
      const t = await taskOf(c, chain);
      const root = await claimRoot(c);
      const error = { name: 'Error', message: 'flaky', retryable: true };
      const failed = chained(t.task, 'b', { success: false, results: { success: false, error } });
      const done = await complete(c, [root, failed, chained(t.task, 'c')]);
      expect(done.applied.get(root.step_uuid)).toBe(true);
      expect(done.applied.get(t.step('b'))).toBe(true);
      // c's parent failed: it may not run
      expect(done.applied.get(t.step('c'))).toBe(false);
      const b = await c.query<{ state: string; attempts: number; pending_parents: number; error: unknown }>(
        `SELECT state, attempts, pending_parents, results->'error'->>'message' AS error
         FROM tasker.workflow_steps WHERE step_uuid = $1`,
        [t.step('b')],
      );
      expect(b.rows[0]).toMatchObject({ attempts: 1, pending_parents: 0, error: 'flaky' });
      expect(['waiting_for_retry', 'enqueued']).toContain(b.rows[0]!.state);
      expect((await states(c, t.task)).c).toBe('pending@0');
      chainedOutcome = {
        task: await taskCounters(c, t.task),
        b: b.rows[0]!.state,
        trail: await trail(c, t.step('b')),
      };
    });
    // the same failure when b was claimed and failed in a call of its own
    await inRollback(async (c) => {
      const t = await taskOf(c, chain);
      const root = await claimRoot(c);
      const first = await c.query<{ claimed: { msg_id: string; attempt: number }[] }>(
        'SELECT claimed FROM tasker.complete_steps($1, $2, true, $3, 5, 30)',
        [JSON.stringify([root]), 'w1', [QUEUE]],
      );
      const b = first.rows[0]!.claimed[0]!;
      const error = { name: 'Error', message: 'flaky', retryable: true };
      const entry = { step_uuid: t.step('b'), msg_id: String(b.msg_id), attempt: b.attempt, success: false };
      await complete(c, [{ ...entry, results: { success: false, error } }]);
      const state = await c.query<{ state: string }>(
        'SELECT state FROM tasker.workflow_steps WHERE step_uuid = $1',
        [t.step('b')],
      );
      expect(chainedOutcome).toEqual({
        task: await taskCounters(c, t.task),
        b: state.rows[0]!.state,
        trail: await trail(c, t.step('b')),
      });
    });
  });

  it('refuses a chained step of a task no longer running', async () => {
    await inRollback(async (c) => {
      const t = await taskOf(c, chain);
      await claimRoot(c);
      await c.query(`SELECT tasker.complete_steps('[]', 'w1')`);
      await c.query(`UPDATE tasker.workflow_steps SET state = 'complete' WHERE step_uuid = $1`, [
        t.step('a'),
      ]);
      await c.query(`UPDATE tasker.tasks SET state = 'cancelled' WHERE task_uuid = $1`, [t.task]);
      const done = await complete(c, [chained(t.task, 'b')]);
      expect(done.applied.get(t.step('b'))).toBe(false);
      expect((await states(c, t.task)).b).toBe('pending@0');
    });
  });
});
