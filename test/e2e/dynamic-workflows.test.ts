import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PermanentError, TemplateValidationError } from '../../src/errors.js';
import { defineTemplate, type TaskTemplate } from '../../src/templates/index.js';
import { batchResults, batches, decide, noBranches } from '../../src/worker/dynamic.js';
import { defineHandler } from '../../src/worker/handler.js';
import { applyStepAction } from '../../src/orchestration/operations.js';
import type { TaskView } from '../../src/orchestration/task-queries.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { startEngine, waitForTask, type Engine } from '../support/engine.js';

const ns = 'dynamic_e2e';

// validate → route (decision) → auto_approve | manager_approval | finance_review → finalize (convergence)
const approval = defineTemplate({ namespace: ns, name: 'approval', version: '1.0.0' })
  .step('validate', { handler: 'dyn.echo' })
  .step('route', { handler: 'dyn.route', type: 'decision', dependsOn: ['validate'] })
  .step('auto_approve', { handler: 'dyn.echo', dependsOn: ['route'] })
  .step('manager_approval', { handler: 'dyn.echo', dependsOn: ['route'] })
  .step('finance_review', { handler: 'dyn.echo', dependsOn: ['route'] })
  .step('notify_finance', { handler: 'dyn.echo', dependsOn: ['finance_review'] })
  .step('finalize', {
    handler: 'dyn.finalize',
    type: 'deferred_convergence',
    dependsOn: ['auto_approve', 'manager_approval', 'notify_finance'],
  })
  .build();

// A decision inside a branch of another decision: depth 2.
const nested = defineTemplate({ namespace: ns, name: 'nested', version: '1.0.0' })
  .step('outer', { handler: 'dyn.pick_first', type: 'decision' })
  .step('inner', { handler: 'dyn.pick_first', type: 'decision', dependsOn: ['outer'] })
  .step('other', { handler: 'dyn.echo', dependsOn: ['outer'] })
  .step('leaf_a', { handler: 'dyn.echo', dependsOn: ['inner'] })
  .step('leaf_b', { handler: 'dyn.echo', dependsOn: ['inner'] })
  .step('done', {
    handler: 'dyn.echo',
    type: 'deferred_convergence',
    dependsOn: ['leaf_a', 'leaf_b', 'other'],
  })
  .build();

function csvTemplate(name: string, failureStrategy: 'fail_fast' | 'continue'): TaskTemplate {
  return defineTemplate({ namespace: ns, name, version: '1.0.0' })
    .step('analyze', { handler: 'csv.analyze', type: 'batchable' })
    .step('process', {
      handler: 'csv.process',
      type: 'batch_worker',
      dependsOn: ['analyze'],
      batch: { failureStrategy, batchSize: 200 },
      retry: { maxAttempts: 3, backoffBaseMs: 10, maxBackoffMs: 20 },
    })
    .step('aggregate', { handler: 'csv.aggregate', type: 'deferred_convergence', dependsOn: ['process'] })
    .build();
}
const csv = csvTemplate('csv', 'fail_fast');
// At most 3 batches of 200: a 1,000-row outcome is over the limit.
const csvLimited = defineTemplate({ namespace: ns, name: 'csv_limited', version: '1.0.0' })
  .step('analyze', { handler: 'csv.analyze', type: 'batchable' })
  .step('process', {
    handler: 'csv.process',
    type: 'batch_worker',
    dependsOn: ['analyze'],
    batch: { batchSize: 200, maxBatches: 3 },
  })
  .step('aggregate', { handler: 'csv.aggregate', type: 'deferred_convergence', dependsOn: ['process'] })
  .build();
// The batchable handler returns whatever the task's context says (to check how bad outcomes are refused).
const csvRaw = defineTemplate({ namespace: ns, name: 'csv_raw', version: '1.0.0' })
  .step('analyze', { handler: 'csv.raw_outcome', type: 'batchable' })
  .step('process', { handler: 'csv.process', type: 'batch_worker', dependsOn: ['analyze'] })
  .step('aggregate', { handler: 'csv.aggregate', type: 'deferred_convergence', dependsOn: ['process'] })
  .build();
const csvContinue = csvTemplate('csv_continue', 'continue');

let routingFixed = false;

/** Rows processed per task (row index → times), to prove each row is processed exactly once. */
const processed = new Map<string, Map<number, number>>();
/** Tasks whose batch 2 fails once right after checkpointing half its range. */
const crashAfterCheckpoint = new Set<string>();
/** Tasks whose batch 3 fails for good. */
const failBatch3 = new Set<string>();
/** Tasks whose first batch to run fails for good while their other batches wait for `releaseHeld`. */
const failFirstBatch = new Set<string>();
const firstBatchFailed = new Map<string, string>();
let releaseHeld!: () => void;
const held = new Promise<void>((r) => (releaseHeld = r));

const handlers = [
  defineHandler('dyn.echo', (ctx) => ({
    step: ctx.stepName,
    saw: Object.keys(ctx.dependencyResults).sort(),
  })),
  defineHandler('dyn.route', (ctx) => {
    const { amount, override, fixable } = ctx.context as {
      amount: number;
      override?: string[];
      fixable?: boolean;
    };
    if (override) return decide(override, { reason: 'override' });
    // A routing bug until an operator "deploys the fix" (see the retry test).
    if (fixable && !routingFixed) return decide(['escalate']);
    if (amount < 1000) return decide(['auto_approve'], { amount });
    if (amount < 5000) return decide(['manager_approval'], { amount });
    return decide(['manager_approval', 'finance_review'], { amount });
  }),
  defineHandler('dyn.pick_first', (ctx) =>
    ctx.stepName === 'outer'
      ? decide(['inner'])
      : (ctx.context as { none?: boolean }).none
        ? noBranches()
        : decide(['leaf_a']),
  ),
  defineHandler('dyn.finalize', (ctx) => ({ approvedBy: Object.keys(ctx.dependencyResults).sort() })),
  defineHandler('csv.analyze', (ctx) => {
    const { rows } = ctx.context as { rows: number };
    return batches({ totalItems: rows });
  }),
  defineHandler('csv.process', async (ctx) => {
    const batch = ctx.batch!;
    const counts = processed.get(ctx.taskUuid) ?? new Map<number, number>();
    processed.set(ctx.taskUuid, counts);
    if (failBatch3.has(ctx.taskUuid) && batch.index === 3) {
      throw new PermanentError('batch 3 is corrupt', { code: 'CORRUPT_BATCH' });
    }
    if (failFirstBatch.has(ctx.taskUuid)) {
      if (!firstBatchFailed.has(ctx.taskUuid)) {
        firstBatchFailed.set(ctx.taskUuid, ctx.stepName);
        throw new PermanentError(`${ctx.stepName} is corrupt`, { code: 'CORRUPT_BATCH' });
      }
      await held;
    }
    let sum = 0;
    for (let row = batch.resumeFrom; row < batch.end; row += 1) {
      counts.set(row, (counts.get(row) ?? 0) + 1);
      sum += row;
      const next = row + 1;
      if ((next - batch.start) % 50 === 0 && next < batch.end) {
        expect(
          await ctx.checkpoint({
            cursor: next,
            partialSum: ((batch.checkpoint?.partialSum as number) ?? 0) + sum,
          }),
        ).toBe(true);
        if (
          crashAfterCheckpoint.has(ctx.taskUuid) &&
          batch.index === 2 &&
          ctx.attempt === 1 &&
          next === batch.start + 100
        ) {
          throw new Error('worker hiccup after checkpoint');
        }
      }
    }
    const before = (batch.checkpoint?.partialSum as number | undefined) ?? 0;
    return { rows: batch.end - batch.start, sum: before + sum, resumedFrom: batch.resumeFrom };
  }),
  defineHandler('csv.raw_outcome', (ctx) => (ctx.context as { outcome: unknown }).outcome),
  defineHandler('csv.aggregate', (ctx) => {
    const results = batchResults<{ rows: number; sum: number }>(ctx, 'process');
    return {
      batches: results.map((r) => (r.success ? r.result!.rows : `failed: ${r.error?.message ?? '?'}`)),
      order: results.map((r) => r.index),
      total: results.reduce((n, r) => n + (r.result?.sum ?? 0), 0),
    };
  }),
];

function states(task: TaskView): Record<string, string> {
  return Object.fromEntries(task.steps.map((s) => [s.name, s.state]));
}

describe('dynamic workflows', () => {
  let db: TestDatabase;
  let engine: Engine;

  beforeAll(async () => {
    db = await createTestDatabase();
    engine = await startEngine(db, {
      templates: [approval, nested, csv, csvContinue, csvLimited, csvRaw],
      handlers,
      overrides: { orchestration: { decision_points: { max_depth: 2 } } },
    });
  });
  afterAll(async () => {
    await engine?.stop();
    await db?.drop();
  });

  async function run(name: string, context: Record<string, unknown>) {
    const created = await engine.orchestrator.createTask({ namespace: ns, name, context });
    return waitForTask(db.pool, created.taskUuid);
  }

  it.each([
    [500, ['auto_approve'], ['manager_approval', 'finance_review', 'notify_finance']],
    [2500, ['manager_approval'], ['auto_approve', 'finance_review', 'notify_finance']],
    [9000, ['manager_approval', 'finance_review', 'notify_finance'], ['auto_approve']],
  ])('approval of %i runs %j and skips %j', async (amount, ran, skipped) => {
    const task = await run('approval', { amount });
    expect(task.state).toBe('complete');
    const s = states(task);
    for (const name of ran) expect(s[name], name).toBe('complete');
    for (const name of skipped) expect(s[name], name).toBe('skipped');
    expect(task.steps.find((x) => x.name === 'manager_approval')!.readiness).toBe(
      ran.includes('manager_approval') ? 'done' : 'skipped',
    );
    const finalize = task.steps.find((x) => x.name === 'finalize')!;
    expect(finalize.state).toBe('complete');
    // The convergence step ran with the results of the branches that ran (and their ancestors), not the others.
    const parents = ran.filter((n) => n !== 'finance_review');
    expect((finalize.result as { approvedBy: string[] }).approvedBy).toEqual(
      [...parents, ...(ran.includes('finance_review') ? ['finance_review'] : []), 'route', 'validate'].sort(),
    );
    // Skipped steps never ran: no attempts, and their audit shows pending → skipped.
    for (const name of skipped) expect(task.steps.find((x) => x.name === name)!.attempts).toBe(0);
  });

  it('a decision naming a step that is not one of its branches fails the task with the reason', async () => {
    const task = await run('approval', {
      amount: 1,
      override: ['auto_approve', 'validate', 'launch_rockets'],
    });
    expect(task.state).toBe('error');
    expect(task.error?.stepName).toBe('route');
    expect(task.error?.error?.code).toBe('INVALID_DECISION');
    expect(task.error?.error?.message).toBe(
      'decision step route chose validate, launch_rockets, which is not one of its branches ' +
        '(auto_approve, finance_review, manager_approval)',
    );
    // Nothing after the decision ran, and the task is not complete without its branches.
    expect(states(task).auto_approve).toBe('pending');
    expect(states(task).finalize).toBe('pending');
  });

  it('an operator retry of a failed decision decides again and the task completes', async () => {
    const failed = await run('approval', { amount: 2500, fixable: true });
    expect(failed.state).toBe('error');
    expect(failed.error?.error?.code).toBe('INVALID_DECISION');
    routingFixed = true;
    const route = failed.steps.find((s) => s.name === 'route')!;
    await applyStepAction(db.pool, failed.taskUuid, route.stepUuid, {
      action: 'reset_for_retry',
      reason: 'routing fixed',
      by: 'ops',
    });
    const task = await waitForTask(db.pool, failed.taskUuid);
    expect(task.state).toBe('complete');
    expect(states(task)).toMatchObject({
      manager_approval: 'complete',
      auto_approve: 'skipped',
      finance_review: 'skipped',
      finalize: 'complete',
    });
  });

  it('nested decisions at the depth limit run; no branches skips everything below', async () => {
    const task = await run('nested', {});
    expect(task.state).toBe('complete');
    expect(states(task)).toMatchObject({
      outer: 'complete',
      inner: 'complete',
      other: 'skipped',
      leaf_a: 'complete',
      leaf_b: 'skipped',
      done: 'complete',
    });
    const none = await run('nested', { none: true });
    expect(none.state).toBe('complete');
    expect(states(none)).toMatchObject({
      leaf_a: 'skipped',
      leaf_b: 'skipped',
      other: 'skipped',
      done: 'skipped',
    });
  });

  it('a template nesting decisions over the limit is refused at registration', async () => {
    const deeper = defineTemplate({ namespace: ns, name: 'too_deep', version: '1.0.0' })
      .step('d1', { handler: 'dyn.pick_first', type: 'decision' })
      .step('d2', { handler: 'dyn.pick_first', type: 'decision', dependsOn: ['d1'] })
      .step('d3', { handler: 'dyn.pick_first', type: 'decision', dependsOn: ['d2'] })
      .step('leaf', { handler: 'dyn.echo', dependsOn: ['d3'] })
      .build();
    const error = await engine.orchestrator.registerTemplate(deeper).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TemplateValidationError);
    expect((error as TemplateValidationError).issues.map((i) => i.message)).toEqual([
      "decision step 'd3' is nested 3 decisions deep; the limit is 2 (orchestration.decision_points.max_depth)",
    ]);
  });

  it('processes a 1,000-row CSV in 5 batches, each row exactly once, results in batch order', async () => {
    const task = await run('csv', { rows: 1000 });
    expect(task.state).toBe('complete');
    const workers = task.steps.filter((s) => s.name.startsWith('process_'));
    expect(workers.map((w) => w.name)).toEqual([
      'process_000',
      'process_001',
      'process_002',
      'process_003',
      'process_004',
    ]);
    expect(workers.every((w) => w.state === 'complete')).toBe(true);
    expect(workers.every((w) => w.type === 'batch_worker')).toBe(true);
    expect(task.steps.find((s) => s.name === 'analyze')!.type).toBe('batchable');
    expect(task.steps.find((s) => s.name === 'aggregate')!.type).toBe('deferred_convergence');
    const counts = processed.get(task.taskUuid)!;
    expect(counts.size).toBe(1000);
    expect([...counts.values()].every((n) => n === 1)).toBe(true);
    const aggregate = task.steps.find((s) => s.name === 'aggregate')!.result as {
      batches: number[];
      order: number[];
      total: number;
    };
    expect(aggregate).toEqual({
      batches: [200, 200, 200, 200, 200],
      order: [0, 1, 2, 3, 4],
      total: (999 * 1000) / 2,
    });
    expect(task.stepsTotal).toBe(7); // analyze, aggregate and five batch workers
  });

  it('a batch worker that fails after checkpointing resumes from its checkpoint', async () => {
    const created = await engine.orchestrator.createTask({
      namespace: ns,
      name: 'csv',
      context: { rows: 1000 },
    });
    crashAfterCheckpoint.add(created.taskUuid);
    const task = await waitForTask(db.pool, created.taskUuid);
    expect(task.state).toBe('complete');
    const batch2 = task.steps.find((s) => s.name === 'process_002')!;
    expect(batch2.attempts).toBe(2);
    expect((batch2.result as { resumedFrom: number }).resumedFrom).toBe(500);
    const counts = processed.get(task.taskUuid)!;
    expect(counts.size).toBe(1000);
    expect([...counts.entries()].filter(([, n]) => n !== 1)).toEqual([]);
    expect((task.steps.find((s) => s.name === 'aggregate')!.result as { total: number }).total).toBe(
      (999 * 1000) / 2,
    );
  });

  it('fail_fast: a batch that fails for good fails the task', async () => {
    const created = await engine.orchestrator.createTask({
      namespace: ns,
      name: 'csv',
      context: { rows: 1000 },
    });
    failBatch3.add(created.taskUuid);
    const task = await waitForTask(db.pool, created.taskUuid);
    expect(task.state).toBe('error');
    expect(task.error?.stepName).toBe('process_003');
    expect(states(task).aggregate).toBe('pending');
  });

  it('continue: the other batches and the convergence step run, with the failed batch reported', async () => {
    const created = await engine.orchestrator.createTask({
      namespace: ns,
      name: 'csv_continue',
      context: { rows: 1000 },
    });
    failBatch3.add(created.taskUuid);
    const task = await waitForTask(db.pool, created.taskUuid);
    expect(task.state).toBe('complete');
    expect(states(task).process_003).toBe('error');
    const aggregate = task.steps.find((s) => s.name === 'aggregate')!.result as { batches: unknown[] };
    expect(aggregate.batches).toEqual([200, 200, 200, 'failed: batch 3 is corrupt', 200]);
  });

  it('an outcome over batch_config.max_batches fails the batchable step with the reason; no batch is created', async () => {
    const task = await run('csv_limited', { rows: 1000 });
    expect(task.state).toBe('error');
    expect(task.error?.stepName).toBe('analyze');
    expect(task.error?.error).toMatchObject({
      code: 'INVALID_BATCH_OUTCOME',
      message:
        'batchable step analyze would create 5 batches (1000 items of 200); the limit is 3 (batch_config.max_batches of process)',
    });
    expect(task.steps.map((s) => s.name).sort()).toEqual(['aggregate', 'analyze']);
  });

  it.each([
    [{ rows: 10 }, /returned no batch_processing_outcome/],
    [{ batch_processing_outcome: { type: 'make_batches' } }, /returned no batch_processing_outcome/],
    [
      { batch_processing_outcome: { type: 'create_batches', ranges: [{ start: 5, end: 1 }] } },
      /returned invalid ranges: each needs whole numbers 0 <= start <= end/,
    ],
    [
      { batch_processing_outcome: { type: 'create_batches', total_items: 'many' } },
      /without a whole total_items >= 0/,
    ],
    [
      { batch_processing_outcome: { type: 'create_batches', total_items: 10, batch_size: 0 } },
      /without a whole total_items >= 0 \(and an optional whole batch_size >= 1\)/,
    ],
  ])('a malformed batch outcome %j fails the task with the reason, nothing lost', async (outcome, reason) => {
    const task = await run('csv_raw', { outcome });
    expect(task.state).toBe('error');
    expect(task.error?.error?.code).toBe('INVALID_BATCH_OUTCOME');
    expect(task.error?.error?.message).toMatch(reason);
    // The handler's result is kept for the operator.
    expect(task.steps.find((s) => s.name === 'analyze')!.state).toBe('error');
  });

  it('a checkpoint is refused with a clear error when malformed, and ignored for an attempt that lost the step', async () => {
    const task = await run('csv', { rows: 400 });
    const batch = task.steps.find((s) => s.name === 'process_000')!;
    await expect(
      db.pool.query('SELECT tasker.checkpoint_step($1, 1, $2)', [
        batch.stepUuid,
        JSON.stringify({ cursor: 'x' }),
      ]),
    ).rejects.toThrow('a checkpoint must be an object with a numeric cursor');
    // The step is complete: no attempt owns it any more, so a late checkpoint changes nothing.
    const late = await db.pool.query<{ saved: boolean }>(
      'SELECT tasker.checkpoint_step($1, 1, $2) AS saved',
      [batch.stepUuid, JSON.stringify({ cursor: 100 })],
    );
    expect(late.rows[0]!.saved).toBe(false);
  });

  it('an empty batchable step goes straight to convergence', async () => {
    const task = await run('csv', { rows: 0 });
    expect(task.state).toBe('complete');
    expect(task.steps.map((s) => s.name).sort()).toEqual(['aggregate', 'analyze']);
    expect(task.steps.find((s) => s.name === 'aggregate')!.result).toEqual({
      batches: [],
      order: [],
      total: 0,
    });
  });
});

describe('fail_fast stops batches that have not started', () => {
  let db: TestDatabase;
  let engine: Engine;

  beforeAll(async () => {
    db = await createTestDatabase();
    // One handler at a time and one step per claim: batches start one after another.
    engine = await startEngine(db, {
      templates: [csv],
      handlers,
      overrides: { worker: { max_concurrent_handlers: 1, claim_batch_size: 1 } },
    });
  });
  afterAll(async () => {
    await engine?.stop();
    await db?.drop();
  });

  it('a batch failing for good cancels the batches still waiting; the task fails without running them', async () => {
    const created = await engine.orchestrator.createTask({
      namespace: ns,
      name: 'csv',
      context: { rows: 1000 },
    });
    failFirstBatch.add(created.taskUuid);
    // The first batch fails at once; the next one holds the only handler slot and one more may be prefetched, so
    // at least two batches cannot have been claimed: fail_fast must cancel them.
    const cancelledNow = async (): Promise<string[]> =>
      (
        await db.pool.query<{ name: string }>(
          `SELECT name FROM tasker.workflow_steps WHERE task_uuid = $1 AND state = 'cancelled' ORDER BY name`,
          [created.taskUuid],
        )
      ).rows.map((r) => r.name);
    const deadline = Date.now() + 30_000;
    while ((await cancelledNow()).length < 2) {
      if (Date.now() > deadline) throw new Error('no batch was cancelled after the first one failed');
      await new Promise((r) => setTimeout(r, 20));
    }
    releaseHeld();
    const task = await waitForTask(db.pool, created.taskUuid);
    expect(task.state).toBe('error');
    expect(task.error?.stepName).toBe(firstBatchFailed.get(created.taskUuid));
    // Batches are sent, and so claimed, in batch order.
    expect(firstBatchFailed.get(created.taskUuid)).toBe('process_000');
    const batchSteps = task.steps.filter((s) => s.name.startsWith('process_'));
    const cancelled = batchSteps.filter((s) => s.state === 'cancelled');
    expect(cancelled.length).toBeGreaterThanOrEqual(2);
    for (const step of cancelled) expect(step.attempts).toBe(0);
    // Every batch either failed (the first), ran because it had started, or was cancelled before it started.
    expect(batchSteps.filter((s) => s.state === 'error')).toHaveLength(1);
    expect(batchSteps.every((s) => ['error', 'complete', 'cancelled'].includes(s.state))).toBe(true);
    expect(states(task).aggregate).toBe('pending');
    const ran = batchSteps.filter((s) => s.state === 'complete').length;
    expect(processed.get(task.taskUuid)?.size ?? 0).toBe(ran * 200);
  });
});
