/**
 * fail_lost_leases, the part of claim_steps that fails steps whose worker's lease expired with no attempts left:
 * each becomes a permanent LEASE_EXPIRED failure waiting for orchestration, audited, with a message on the step
 * results queue. Each test runs in a rolled-back transaction, so the queue's notification (delivered on commit) is
 * not observed here. claim_steps calls it for the lost steps it finds; test/e2e/worker-crash.test.ts covers a lost
 * lease with attempts left end to end.
 */
import type pg from 'pg';
import { describe, expect, it } from 'vitest';
import { FAILURE_CODES, FAILURE_NAMES, QUEUES } from '../../../src/contract/names.js';
import { lastTransition, sqlTestDatabase, states, taskOf, walk } from '../support.js';
import { chain } from '../templates.js';

const { inRollback } = sqlTestDatabase();

/** A chain task whose first step is running (in_progress) on its `attempts`th attempt. */
async function running(c: pg.PoolClient, attempts: number): Promise<{ task: string; first: string }> {
  const t = await taskOf(c, chain);
  await walk(c, t.step('first'), ['in_progress']);
  await c.query(`UPDATE tasker.workflow_steps SET attempts = $2 WHERE step_uuid = $1`, [
    t.step('first'),
    attempts,
  ]);
  return { task: t.task, first: t.step('first') };
}

async function resultMessages(c: pg.PoolClient): Promise<unknown[]> {
  const res = await c.query<{ message: unknown }>(
    `SELECT message FROM tasker.queue_messages WHERE queue_name = $1 ORDER BY msg_id`,
    [QUEUES.StepResults],
  );
  return res.rows.map((r) => r.message);
}

describe('fail_lost_leases', () => {
  it('fails each lost step permanently with LEASE_EXPIRED, audited, and hands it to orchestration', () =>
    inRollback(async (c) => {
      const lost = await running(c, 3);
      const alive = await running(c, 1);
      const queued = await resultMessages(c);

      await c.query(`SELECT tasker.fail_lost_leases($1, 'worker-9')`, [[lost.first]]);

      const row = await c.query<{ state: string; results: unknown }>(
        `SELECT state, results FROM tasker.workflow_steps WHERE step_uuid = $1`,
        [lost.first],
      );
      expect(row.rows[0]).toEqual({
        state: 'enqueued_as_error_for_orchestration',
        results: {
          success: false,
          result: null,
          error: {
            name: FAILURE_NAMES.LeaseExpired,
            code: FAILURE_CODES.LeaseExpired,
            retryable: false,
            message: 'the worker running this step stopped before finishing it and no attempts are left',
          },
          metadata: { attempt: 3, detected_by: 'worker-9' },
        },
      });
      expect(await lastTransition(c, lost.first)).toEqual({
        from_state: 'in_progress',
        to_state: 'enqueued_as_error_for_orchestration',
        event: 'EnqueueAsErrorForOrchestration',
        processor: 'worker-9',
        metadata: { reason: 'visibility timeout expired' },
      });
      expect(await resultMessages(c)).toEqual([...queued, { task_uuid: lost.task, step_uuid: lost.first }]);
      // Only the steps it is given: the other running step and the rest of the task are untouched.
      expect(await states(c, alive.task)).toEqual({ first: 'in_progress', second: 'pending' });
      expect(await states(c, lost.task)).toMatchObject({ second: 'pending' });
    }));

  it('leaves a failure orchestration settles as permanent (error, not a retry)', () =>
    inRollback(async (c) => {
      // Attempts left on the step do not matter: the recorded failure is not retryable.
      const lost = await running(c, 1);
      await c.query(`SELECT tasker.fail_lost_leases($1, 'worker-9')`, [[lost.first]]);
      const res = await c.query<{ error: string[]; retry: string[] }>(
        `SELECT error, retry FROM tasker.resolve_decide_outcomes($1)`,
        [[lost.first]],
      );
      expect(res.rows[0]).toEqual({ error: [lost.first], retry: [] });
    }));

  it('does nothing for no steps', () =>
    inRollback(async (c) => {
      const lost = await running(c, 3);
      const queued = await resultMessages(c);
      await c.query(`SELECT tasker.fail_lost_leases('{}', 'worker-9')`);
      await c.query(`SELECT tasker.fail_lost_leases(NULL, 'worker-9')`);
      expect(await states(c, lost.task)).toEqual({ first: 'in_progress', second: 'pending' });
      expect(await resultMessages(c)).toEqual(queued);
    }));
});
