/**
 * tasker.reevaluate_task (operator actions re-evaluate the task) counts steps as resolve_steps does: a skipped
 * step and a tolerated failure are done, and a tolerated failure does not fail the task.
 */
import { describe, expect, it } from 'vitest';
import { finished, sqlTestDatabase, states, taskOf } from '../support.js';
import { decision } from '../templates.js';

const { inRollback } = sqlTestDatabase();

describe('reevaluate_task', () => {
  it('a reset step in a task with skipped branches: the task completes once it does', () =>
    inRollback(async (c) => {
      const t = await taskOf(c, decision);
      const settle = async (name: string, results: Parameters<typeof finished>[2]) => {
        await finished(c, t.step(name), results);
        await c.query(`SELECT * FROM tasker.resolve_steps(ARRAY[$1]::uuid[], 'test')`, [t.step(name)]);
      };
      await settle('route', {
        success: true,
        result: { decision_point_outcome: { type: 'create_steps', step_names: ['a'] } },
      });
      await settle('a', { success: false, error: { message: 'no', retryable: false } });
      expect(await states(c, t.task)).toMatchObject({ a: 'error', b: 'skipped' });
      const action = await c.query<{ task_state: string }>(
        `SELECT * FROM tasker.apply_step_action($1, $2, 'reset_for_retry', NULL, 'fix', 'ops', 'test')`,
        [t.task, t.step('a')],
      );
      expect(action.rows[0]!.task_state).toBe('steps_in_process');
      const counters = await c.query<{ steps_remaining: number }>(
        'SELECT steps_remaining FROM tasker.tasks WHERE task_uuid = $1',
        [t.task],
      );
      // a, c and join are left; the skipped b is done.
      expect(counters.rows[0]!.steps_remaining).toBe(3);
      for (const s of ['a', 'c', 'join']) await settle(s, { success: true, result: {} });
      const task = await c.query<{ state: string }>('SELECT state FROM tasker.tasks WHERE task_uuid = $1', [
        t.task,
      ]);
      expect(task.rows[0]!.state).toBe('complete');
    }));

  it('a tolerated failure (continue batch) neither blocks the reset step nor fails the task', () =>
    inRollback(async (c) => {
      const t = await taskOf(c, decision);
      await finished(c, t.step('route'), {
        success: true,
        result: { decision_point_outcome: { type: 'create_steps', step_names: ['a', 'b'] } },
      });
      await c.query(`SELECT * FROM tasker.resolve_steps(ARRAY[$1]::uuid[], 'test')`, [t.step('route')]);
      // b ended as a tolerated failure; a failed for good.
      await c.query(
        `UPDATE tasker.workflow_steps SET state = 'error', tolerate_failure = true WHERE step_uuid = $1`,
        [t.step('b')],
      );
      await finished(c, t.step('a'), { success: false, error: { message: 'no', retryable: false } });
      await c.query(`SELECT * FROM tasker.resolve_steps(ARRAY[$1]::uuid[], 'test')`, [t.step('a')]);
      const action = await c.query<{ step_state: string; task_state: string }>(
        `SELECT * FROM tasker.apply_step_action($1, $2, 'reset_for_retry', NULL, 'fix', 'ops', 'test')`,
        [t.task, t.step('a')],
      );
      // a is enqueued at once: only a's own failure counted, and it was reset.
      expect(action.rows[0]).toEqual({ step_state: 'pending', task_state: 'steps_in_process' });
      expect((await states(c, t.task)).a).toBe('enqueued');
    }));
});
