/**
 * resolve_steps in its named parts, each tested on its own in a rolled-back transaction (the whole is tested end to
 * end by test/e2e/dynamic-workflows.test.ts, random-dags.property.test.ts and engine.test.ts).
 */
import { describe, expect, it } from 'vitest';
import { finished, sqlTestDatabase, states, taskOf } from '../support.js';
import { batch, chain, decision } from '../templates.js';

const { inRollback } = sqlTestDatabase();

describe('resolve_decide_outcomes', () => {
  it('complete, retry while attempts are left, error when none are or the error is not retryable', () =>
    inRollback(async (c) => {
      const t1 = await taskOf(c, chain);
      await finished(c, t1.step('first'), { success: true, result: { ok: 1 } });
      const retry = await taskOf(c, chain);
      await finished(c, retry.step('first'), { success: false, error: { message: 'x', retryable: true } }, 1);
      const lastTry = await taskOf(c, chain);
      await finished(
        c,
        lastTry.step('first'),
        { success: false, error: { message: 'x', retryable: true } },
        3,
      );
      const permanent = await taskOf(c, chain);
      await finished(
        c,
        permanent.step('first'),
        { success: false, error: { message: 'x', retryable: false } },
        1,
      );
      const notWaiting = t1.step('second'); // still pending: a duplicate message, ignored
      const res = await c.query(`SELECT * FROM tasker.resolve_decide_outcomes($1)`, [
        [t1.step('first'), retry.step('first'), lastTry.step('first'), permanent.step('first'), notWaiting],
      ]);
      const row = res.rows[0] as Record<string, string[]>;
      expect(row.complete).toEqual([t1.step('first')]);
      expect(row.retry).toEqual([retry.step('first')]);
      expect(row.error!.sort()).toEqual([lastTry.step('first'), permanent.step('first')].sort());
      expect(row.tolerated).toEqual([]);
      expect(row.decisions).toEqual([]);
    }));
});

describe('resolve_apply_decisions', () => {
  it('returns the branches not chosen as skip seeds (never the convergence step)', () =>
    inRollback(async (c) => {
      const t = await taskOf(c, decision);
      const outcome = { decision_point_outcome: { type: 'create_steps', step_names: ['a'] } };
      await finished(c, t.step('route'), { success: true, result: outcome });
      const res = await c.query(`SELECT * FROM tasker.resolve_apply_decisions($1)`, [[t.step('route')]]);
      expect(res.rows[0]).toEqual({ invalid: [], skip_seeds: [t.step('b')] });
    }));

  it('fails a decision naming a step that is not a branch, with the reason in its results', () =>
    inRollback(async (c) => {
      const t = await taskOf(c, decision);
      const outcome = { decision_point_outcome: { type: 'create_steps', step_names: ['c'] } };
      await finished(c, t.step('route'), { success: true, result: outcome });
      const res = await c.query(`SELECT * FROM tasker.resolve_apply_decisions($1)`, [[t.step('route')]]);
      expect(res.rows[0]).toEqual({ invalid: [t.step('route')], skip_seeds: [] });
      const err = await c.query<{ e: { code: string; message: string } }>(
        `SELECT results->'error' AS e FROM tasker.workflow_steps WHERE step_uuid = $1`,
        [t.step('route')],
      );
      expect(err.rows[0]!.e.code).toBe('INVALID_DECISION');
      expect(err.rows[0]!.e.message).toBe(
        'decision step route chose c, which is not one of its branches (a, b)',
      );
    }));
});

describe('resolve_cascade_skips', () => {
  it('skips the seeds and what depends only on them; a convergence step with a live parent waits', () =>
    inRollback(async (c) => {
      const t = await taskOf(c, decision);
      const res = await c.query(`SELECT * FROM tasker.resolve_cascade_skips($1, 'test')`, [[t.step('b')]]);
      expect(res.rows[0]).toEqual({ skipped: [t.step('b')], convergence_ready: [] });
      expect(await states(c, t.task)).toMatchObject({
        a: 'pending',
        b: 'skipped',
        c: 'pending',
        join: 'pending',
      });
      const join = await c.query(
        `SELECT pending_parents, skipped_parents FROM tasker.workflow_steps WHERE step_uuid = $1`,
        [t.step('join')],
      );
      expect(join.rows[0]).toEqual({ pending_parents: 1, skipped_parents: 1 });
    }));

  it('skipping every parent of a convergence step skips it too, in later rounds', () =>
    inRollback(async (c) => {
      const t = await taskOf(c, decision);
      const res = await c.query<{ skipped: string[] }>(
        `SELECT * FROM tasker.resolve_cascade_skips($1, 'test')`,
        [[t.step('a'), t.step('b')]],
      );
      expect(res.rows[0]!.skipped.sort()).toEqual(
        [t.step('a'), t.step('b'), t.step('c'), t.step('join')].sort(),
      );
      expect(Object.values(await states(c, t.task)).filter((s) => s === 'skipped')).toHaveLength(4);
    }));
});

describe('batch_ranges', () => {
  interface Ranges {
    ranges: unknown;
    total_items: string | null;
    reason: string | null;
  }
  const ranges = async (outcome: unknown): Promise<Ranges | undefined> =>
    inRollback(
      async (c) =>
        (
          await c.query<Ranges>(`SELECT * FROM tasker.batch_ranges($1, 'analyze', 'process', $2)`, [
            JSON.stringify(outcome),
            JSON.stringify({ batchSize: 10, maxBatches: 3 }),
          ])
        ).rows[0],
    );

  it('splits total_items by the batch size, or takes given ranges', async () => {
    expect(await ranges({ type: 'create_batches', total_items: 25 })).toEqual({
      ranges: [
        { start: 0, end: 10 },
        { start: 10, end: 20 },
        { start: 20, end: 25 },
      ],
      total_items: '25',
      reason: null,
    });
    expect(await ranges({ type: 'create_batches', ranges: [{ start: 5, end: 9 }] })).toMatchObject({
      ranges: [{ start: 5, end: 9 }],
      total_items: '4',
      reason: null,
    });
    expect(await ranges({ type: 'create_batches', total_items: 0 })).toMatchObject({
      ranges: [],
      reason: null,
    });
  });

  it('refuses too many batches, malformed ranges and a missing outcome, saying why', async () => {
    expect((await ranges({ type: 'create_batches', total_items: 31 }))?.reason).toBe(
      'batchable step analyze would create 4 batches (31 items of 10); the limit is 3 (batch_config.max_batches of process)',
    );
    expect((await ranges({ type: 'create_batches', ranges: [{ start: 3, end: 1 }] }))?.reason).toMatch(
      /invalid ranges: each needs whole numbers 0 <= start <= end/,
    );
    expect((await ranges(null))?.reason).toMatch(/returned no batch_processing_outcome/);
  });
});

describe('resolve_expand_batches', () => {
  it('creates one batch worker per range in batch order, wired to the convergence step', () =>
    inRollback(async (c) => {
      const t = await taskOf(c, batch);
      await finished(c, t.step('analyze'), {
        success: true,
        result: { batch_processing_outcome: { type: 'create_batches', total_items: 25 } },
      });
      const res = await c.query(`SELECT tasker.resolve_expand_batches($1, 'test') AS invalid`, [
        [t.step('analyze')],
      ]);
      expect(res.rows[0]).toEqual({ invalid: [] });
      const workers = await c.query<{ name: string; batch: { start: number; end: number } }>(
        `SELECT name, inputs->'__batch' AS batch FROM tasker.workflow_steps
         WHERE task_uuid = $1 AND step_type = 'batch_worker' ORDER BY name`,
        [t.task],
      );
      expect(workers.rows.map((w) => [w.name, w.batch.start, w.batch.end])).toEqual([
        ['process_000', 0, 10],
        ['process_001', 10, 20],
        ['process_002', 20, 25],
      ]);
      const agg = await c.query(`SELECT pending_parents FROM tasker.workflow_steps WHERE step_uuid = $1`, [
        t.step('aggregate'),
      ]);
      expect(agg.rows[0]).toEqual({ pending_parents: 4 }); // the stand-in edge from analyze, plus three batches
    }));
});

describe('resolve_record_outcomes and resolve_enqueue_ready', () => {
  it('completes a step, releases its dependent, and enqueues it with a message', () =>
    inRollback(async (c) => {
      const t = await taskOf(c, chain);
      await finished(c, t.step('first'), { success: true, result: { ok: 1 } });
      const rec = await c.query(
        `SELECT * FROM tasker.resolve_record_outcomes($1, '{}', '{}', '{}', 'test')`,
        [[t.step('first')]],
      );
      expect(rec.rows[0]).toEqual({ ready: [t.step('second')], next_retry_at: null });
      const enq = await c.query(`SELECT e.enqueued FROM tasker.resolve_enqueue_ready($1, '{}', 'test') e`, [
        [t.step('second')],
      ]);
      expect(enq.rows[0]).toEqual({ enqueued: [t.step('second')] });
      expect(await states(c, t.task)).toEqual({ first: 'complete', second: 'enqueued' });
      const msg = await c.query(`SELECT 1 FROM tasker.queue_messages WHERE message->>'step_uuid' = $1`, [
        t.step('second'),
      ]);
      expect(msg.rowCount).toBe(1);
    }));

  it('a retry waits for the delay the worker computed; a task with a failure enqueues nothing new', () =>
    inRollback(async (c) => {
      const t = await taskOf(c, chain);
      await finished(c, t.step('first'), { success: false, error: { message: 'x' } });
      await c.query(
        `UPDATE tasker.workflow_steps SET results = results || '{"retry_delay_ms": 60000}' WHERE step_uuid = $1`,
        [t.step('first')],
      );
      const rec = await c.query<{ next_retry_at: Date }>(
        `SELECT * FROM tasker.resolve_record_outcomes('{}', '{}', $1, '{}', 'test')`,
        [[t.step('first')]],
      );
      expect(rec.rows[0]!.next_retry_at.getTime()).toBeGreaterThan(Date.now() + 30_000);
      const enq = await c.query(`SELECT e.enqueued FROM tasker.resolve_enqueue_ready($1, $2, 'test') e`, [
        [t.step('second')],
        [t.step('first')],
      ]);
      expect(enq.rows[0]).toEqual({ enqueued: [] });
    }));
});

describe('resolve_finalize_tasks', () => {
  it('completes a task whose last step completed, and counts it by template', () =>
    inRollback(async (c) => {
      const t = await taskOf(c, chain);
      await c.query(`UPDATE tasker.workflow_steps SET state = 'complete' WHERE task_uuid = $1`, [t.task]);
      await c.query(`UPDATE tasker.tasks SET steps_remaining = 1, steps_in_flight = 1 WHERE task_uuid = $1`, [
        t.task,
      ]);
      const res = await c.query(
        `SELECT * FROM tasker.resolve_finalize_tasks($1, $2, '{}', '{}', '{}', '{}', '{}', '{}', 'test')`,
        [[t.task], [t.step('second')]],
      );
      expect(res.rows[0]).toEqual({
        tasks_finalized: 1,
        finalized: [{ namespace: 'sql_parts', template: 'chain', state: 'complete', count: 1 }],
      });
      const task = await c.query(`SELECT state FROM tasker.tasks WHERE task_uuid = $1`, [t.task]);
      expect(task.rows[0]).toEqual({ state: 'complete' });
    }));
});
