/**
 * settle_successes, complete_steps' common case (ADR 0010): every result a success of a plain step. It must leave
 * exactly what the general path leaves (the worker storing results, the orchestrator resolving them, workers
 * claiming what it enqueued): the same step states, audit trails, task counters, task states and dead letters,
 * whether or not the worker claims the released steps for itself. Each task is run to its end each way, each in
 * a rolled-back transaction, and the pictures compared.
 */
import type pg from 'pg';
import { describe, expect, it } from 'vitest';
import { workerQueueName } from '../../../src/contract/names.js';
import { defineTemplate } from '../../../src/templates/index.js';
import type { TaskTemplate } from '../../../src/templates/types.js';
import { sqlTestDatabase, taskOf, taskPicture } from '../support.js';

const ns = 'sql_settle';
const QUEUE = workerQueueName(ns);
const diamond = defineTemplate({ namespace: ns, name: 'diamond', version: '1.0.0' })
  .step('a', { handler: 'h' })
  .step('b', { handler: 'h', dependsOn: ['a'] })
  .step('c', { handler: 'h', dependsOn: ['a'] })
  .step('d', { handler: 'h', dependsOn: ['b', 'c'] })
  .build();
const branches = defineTemplate({ namespace: ns, name: 'branches', version: '1.0.0' })
  .step('a', { handler: 'h' })
  .step('b', { handler: 'h', dependsOn: ['a'] })
  .step('c', { handler: 'h', dependsOn: ['a'] })
  .step('b2', { handler: 'h', dependsOn: ['b'] })
  .build();

const { inRollback } = sqlTestDatabase();

type Path = 'fused' | 'fused-claiming' | 'orchestrator';

interface Claim {
  msg_id: string | number;
  step_uuid: string;
  attempt: number;
  step_name: string;
}

/**
 * Runs the task to its end, one result per complete_steps call, failures first and then in name order.
 * `fused`: the worker resolves (complete_steps with p_resolve) and claims with claim_steps, as the orchestrator
 * path does; `fused-claiming`: it also claims for itself what its completions release (up to 10), as workers do
 * by default; `orchestrator`: the worker only stores, process_step_results resolves.
 */
async function run(c: pg.PoolClient, path: Path, fail: ReadonlySet<string>): Promise<void> {
  const claimVisible = async (): Promise<Claim[]> =>
    (
      await c.query<Claim>(
        'SELECT msg_id, step_uuid, attempt, step_name FROM tasker.claim_steps($1, 100, 30, $2)',
        [QUEUE, 'w'],
      )
    ).rows;
  let queue: Claim[] = [];
  for (let turn = 0; turn < 50; turn++) {
    if (queue.length === 0) queue = await claimVisible();
    if (queue.length === 0) return;
    queue.sort(
      (x, y) =>
        Number(fail.has(y.step_name)) - Number(fail.has(x.step_name)) ||
        x.step_name.localeCompare(y.step_name),
    );
    const step = queue.shift()!;
    const success = !fail.has(step.step_name);
    const payload = JSON.stringify([
      {
        step_uuid: step.step_uuid,
        msg_id: String(step.msg_id),
        attempt: step.attempt,
        success,
        results: success
          ? { success, result: { by: step.step_name }, metadata: {} }
          : { success, error: { message: 'no', retryable: false }, metadata: {} },
      },
    ]);
    if (path === 'orchestrator') {
      await c.query('SELECT * FROM tasker.complete_steps($1, $2, false)', [payload, 'w']);
      await c.query('SELECT * FROM tasker.process_step_results(100, $1)', ['w']);
    } else {
      const limit = path === 'fused-claiming' ? 10 : 0;
      const res = await c.query<{ claimed: Claim[] | null }>(
        'SELECT claimed FROM tasker.complete_steps($1, $2, true, $3, $4, 30)',
        [payload, 'w', [QUEUE], limit],
      );
      queue.push(...(res.rows[0]?.claimed ?? []));
    }
  }
  throw new Error('the task did not settle in 50 turns');
}

/** The task run to its end one way, with the functions its transaction called. */
async function runOnce(
  template: TaskTemplate,
  path: Path,
  fail: ReadonlySet<string>,
): Promise<{ picture: unknown; calls: Record<string, number> }> {
  return inRollback(async (c) => {
    // Function call counts, as deltas: the server may not have flushed an earlier transaction's counts yet.
    await c.query(`SET LOCAL track_functions = 'all'`);
    const counts = async (): Promise<Record<string, number>> => {
      const res = await c.query<{ funcname: string; calls: string }>(
        `SELECT funcname, calls FROM pg_stat_xact_user_functions
         WHERE schemaname = 'tasker' AND funcname IN ('settle_successes', 'settle_last_steps', 'resolve_steps')`,
      );
      return Object.fromEntries(res.rows.map((r) => [r.funcname, Number(r.calls)]));
    };
    const t = await taskOf(c, template);
    const before = await counts();
    await run(c, path, fail);
    const after = await counts();
    const calls = Object.fromEntries(
      Object.entries(after)
        .map(([name, n]) => [name, n - (before[name] ?? 0)] as const)
        .filter(([, n]) => n > 0),
    );
    return { picture: await taskPicture(c, t.task), calls };
  });
}

describe('settle_successes', () => {
  it('a diamond of successes: settled without resolve_steps, leaving what the orchestrator path leaves', async () => {
    const fused = await runOnce(diamond, 'fused', new Set());
    const claiming = await runOnce(diamond, 'fused-claiming', new Set());
    const general = await runOnce(diamond, 'orchestrator', new Set());
    // the last result, d's, completes the task: settle_last_steps (ADR 0014)
    expect(fused.calls).toEqual({ settle_successes: 3, settle_last_steps: 1 });
    expect(claiming.calls).toEqual({ settle_successes: 3, settle_last_steps: 1 });
    expect(general.calls.settle_successes).toBeUndefined();
    expect(fused.picture).toEqual(general.picture);
    expect(claiming.picture).toEqual(general.picture);
    expect(fused.picture).toMatchObject({
      task: [{ state: 'complete', steps_remaining: 0, steps_in_flight: 0 }],
    });
  });

  it('a success after a sibling failed for good: nothing new starts, the task ends in error with its dead letter', async () => {
    const fail = new Set(['c']);
    const fused = await runOnce(branches, 'fused', fail);
    const claiming = await runOnce(branches, 'fused-claiming', fail);
    const general = await runOnce(branches, 'orchestrator', fail);
    // a and b are settled here; c's failure takes resolve_steps.
    expect(fused.calls).toEqual({ settle_successes: 2, resolve_steps: 1 });
    expect(claiming.calls).toEqual({ settle_successes: 2, resolve_steps: 1 });
    expect(fused.picture).toEqual(general.picture);
    expect(claiming.picture).toEqual(general.picture);
    expect(fused.picture).toMatchObject({
      steps: [
        { name: 'a', state: 'complete' },
        { name: 'b', state: 'complete' },
        { name: 'b2', state: 'pending' },
        { name: 'c', state: 'error' },
      ],
      task: [{ state: 'error' }],
      deadLetters: [{ n: 1 }],
    });
  });

  it('a result for an attempt the step no longer runs is refused and changes nothing', async () => {
    await inRollback(async (c) => {
      const t = await taskOf(c, diamond);
      const claimed = await c.query<{ msg_id: string; step_uuid: string }>(
        'SELECT msg_id, step_uuid FROM tasker.claim_steps($1, 10, 30, $2)',
        [QUEUE, 'w'],
      );
      const step = claimed.rows[0]!;
      const before = await taskPicture(c, t.task);
      const res = await c.query<{ applied: boolean; claimed: unknown }>(
        'SELECT applied, claimed FROM tasker.complete_steps($1, $2, true, $3, 5, 30)',
        [
          JSON.stringify([
            {
              step_uuid: step.step_uuid,
              msg_id: step.msg_id,
              attempt: 2,
              success: true,
              results: { success: true },
            },
          ]),
          'w',
          [QUEUE],
        ],
      );
      expect(res.rows).toEqual([{ applied: false, claimed: null }]);
      expect(await taskPicture(c, t.task)).toEqual(before);
    });
  });

  it('siblings settled in one call release their join once, and a stale result beside them is refused', async () => {
    await inRollback(async (c) => {
      const t = await taskOf(c, diamond);
      const claim = async (): Promise<Claim[]> =>
        (
          await c.query<Claim>(
            'SELECT msg_id, step_uuid, attempt, step_name FROM tasker.claim_steps($1, 10, 30, $2)',
            [QUEUE, 'w'],
          )
        ).rows;
      const result = (step: Claim, attempt = step.attempt) => ({
        step_uuid: step.step_uuid,
        msg_id: String(step.msg_id),
        attempt,
        success: true,
        results: { success: true, result: { by: step.step_name }, metadata: {} },
      });
      const [a] = await claim();
      await c.query('SELECT * FROM tasker.complete_steps($1, $2, true, $3, 0, 30)', [
        JSON.stringify([result(a!)]),
        'w',
        [QUEUE],
      ]);
      const middle = await claim();
      expect(middle.map((m) => m.step_name).sort()).toEqual(['b', 'c']);
      // b and c in one call, with a result for an attempt of b that is not running.
      const res = await c.query<{
        step_uuid: string;
        attempt: number;
        applied: boolean;
        claimed: Claim[] | null;
      }>('SELECT step_uuid, attempt, applied, claimed FROM tasker.complete_steps($1, $2, true, $3, 5, 30)', [
        JSON.stringify([result(middle[0]!), result(middle[0]!, 7), result(middle[1]!)]),
        'w',
        [QUEUE],
      ]);
      expect(res.rows.map((r) => r.applied)).toEqual([true, false, true]);
      // d, waiting for both, is released and claimed once.
      expect(res.rows[0]!.claimed!.map((r) => r.step_name)).toEqual(['d']);
      const d = await c.query<{ state: string; pending_parents: number; attempts: number }>(
        'SELECT state, pending_parents, attempts FROM tasker.workflow_steps WHERE step_uuid = $1',
        [t.step('d')],
      );
      expect(d.rows[0]).toEqual({ state: 'in_progress', pending_parents: 0, attempts: 1 });
      const task = await c.query<{ steps_remaining: number; steps_in_flight: number }>(
        'SELECT steps_remaining, steps_in_flight FROM tasker.tasks WHERE task_uuid = $1',
        [t.task],
      );
      expect(task.rows[0]).toEqual({ steps_remaining: 1, steps_in_flight: 1 });
    });
  });
});
