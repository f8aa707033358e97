/**
 * resolve_fail_fast, the part of resolve_steps that stops a fail_fast batch: when a batch worker fails for good,
 * the batches of the same batchable step that have not started are cancelled (audited), running ones are left to
 * finish, and the cancelled batches that were enqueued are returned as withdrawn. Each test runs in a rolled-back
 * transaction; the whole is tested end to end by test/e2e/dynamic-workflows.test.ts.
 */
import type pg from 'pg';
import { describe, expect, it } from 'vitest';
import { finished, lastTransition, sqlTestDatabase, states, stepUuids, taskOf, walk } from '../support.js';
import { chain, fanOut, fanOutContinue } from '../templates.js';
import type { TaskTemplate } from '../../../src/templates/types.js';

const { inRollback } = sqlTestDatabase();

/** A task of `template` whose batchable step completed with `items` items, its batches created (all pending). */
async function expanded(
  c: pg.PoolClient,
  template: TaskTemplate,
  items: number,
): Promise<{ task: string; uuid: Record<string, string> }> {
  const t = await taskOf(c, template);
  await finished(c, t.step('split'), {
    success: true,
    result: { batch_processing_outcome: { type: 'create_batches', total_items: items } },
  });
  const res = await c.query<{ invalid: string[] }>(
    `SELECT tasker.resolve_expand_batches($1, 'test') AS invalid`,
    [[t.step('split')]],
  );
  expect(res.rows[0]!.invalid).toEqual([]);
  return { task: t.task, uuid: await stepUuids(c, t.task) };
}

async function failFast(c: pg.PoolClient, failed: string[] | null): Promise<string[]> {
  const res = await c.query<{ withdrawn: string[] }>(
    `SELECT tasker.resolve_fail_fast($1, 'test') AS withdrawn`,
    [failed],
  );
  return res.rows[0]!.withdrawn;
}

describe('resolve_fail_fast', () => {
  it('cancels the batches that have not started, returns the enqueued ones, and leaves running ones alone', () =>
    inRollback(async (c) => {
      const { task, uuid } = await expanded(c, fanOut, 4);
      await finished(c, uuid.work_000!, { success: false, error: { message: 'boom', retryable: false } });
      await walk(c, uuid.work_001!, ['enqueued']);
      await walk(c, uuid.work_002!, ['enqueued', 'in_progress']);
      // work_003 stays pending.

      expect(await failFast(c, [uuid.work_000!])).toEqual([uuid.work_001]);
      expect(await states(c, task)).toMatchObject({
        work_000: 'enqueued_as_error_for_orchestration',
        work_001: 'cancelled',
        work_002: 'in_progress',
        work_003: 'cancelled',
        merge: 'pending',
      });
      for (const [step, from] of [
        [uuid.work_001!, 'enqueued'],
        [uuid.work_003!, 'pending'],
      ] as const) {
        expect(await lastTransition(c, step)).toEqual({
          from_state: from,
          to_state: 'cancelled',
          event: 'Cancel',
          processor: 'test',
          metadata: { reason: 'fail_fast: another batch failed' },
        });
      }
    }));

  it("touches only the failed batch's siblings: another task's batches stay as they are", () =>
    inRollback(async (c) => {
      const one = await expanded(c, fanOut, 2);
      const other = await expanded(c, fanOut, 2);
      await finished(c, one.uuid.work_000!, { success: false, error: { message: 'boom' } });
      await walk(c, other.uuid.work_001!, ['enqueued']);

      expect(await failFast(c, [one.uuid.work_000!])).toEqual([]);
      expect(await states(c, one.task)).toMatchObject({ work_001: 'cancelled' });
      expect(await states(c, other.task)).toMatchObject({ work_000: 'pending', work_001: 'enqueued' });
    }));

  it('cancels nothing under failure strategy continue (the batches tolerate failures)', () =>
    inRollback(async (c) => {
      const { task, uuid } = await expanded(c, fanOutContinue, 3);
      await finished(c, uuid.work_000!, { success: false, error: { message: 'boom' } });
      await walk(c, uuid.work_001!, ['enqueued']);

      expect(await failFast(c, [uuid.work_000!])).toEqual([]);
      expect(await states(c, task)).toMatchObject({ work_001: 'enqueued', work_002: 'pending' });
    }));

  it('does nothing for a failed step that is not a batch worker, or for no steps', () =>
    inRollback(async (c) => {
      const t = await taskOf(c, chain);
      await finished(c, t.step('first'), { success: false, error: { message: 'boom' } });
      const before = await states(c, t.task);

      expect(await failFast(c, [t.step('first')])).toEqual([]);
      expect(await failFast(c, [])).toEqual([]);
      expect(await failFast(c, null)).toEqual([]);
      expect(await states(c, t.task)).toEqual(before);
    }));
});
