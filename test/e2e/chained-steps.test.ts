/**
 * Chains run locally (ADR 0011), end to end on a real worker and database: a chained step's handler sees what it
 * would see if it had been claimed, the task leaves the same audit trail with chaining on and off, and a chained
 * step that is still running when its parent's completion claims it takes over that claim instead of running
 * twice, including the children of a wide fan-out that its parent's completion batch had no room for.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defineTemplate } from '../../src/templates/index.js';
import { defineHandler, type StepContext } from '../../src/worker/handler.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { startEngine, waitForTask, type Engine } from '../support/engine.js';

const ns = 'chained_steps';
const diamond = defineTemplate({ namespace: ns, name: 'diamond', version: '1.0.0' })
  .step('top', { handler: 'snap', inputs: { level: 0 } })
  .step('left', { handler: 'snap', dependsOn: ['top'], inputs: { level: 1 } })
  .step('right', { handler: 'nothing', dependsOn: ['top'] })
  .step('bottom', { handler: 'snap', dependsOn: ['left', 'right'], retry: { maxAttempts: 4 } })
  .build();
const pair = defineTemplate({ namespace: ns, name: 'pair', version: '1.0.0' })
  .step('p', { handler: 'quick' })
  .step('q', { handler: 'waits_for_p', dependsOn: ['p'] })
  .build();

/** a, then b (fails for good) and c side by side. */
const fork = defineTemplate({ namespace: ns, name: 'fork', version: '1.0.0' })
  .step('a', { handler: 'quick' })
  .step('b', { handler: 'fails', dependsOn: ['a'], retry: { maxAttempts: 1 } })
  .step('c', { handler: 'quick', dependsOn: ['a'] })
  .build();
const failures = new Map<string, number>();
/** root → 60 children: more than one completion can take, so some children still run when root is written. */
const wide = Array.from({ length: 60 }, (_, i) => `m${i + 1}`).reduce(
  (b, name) => b.step(name, { handler: 'counted', dependsOn: ['root'] }),
  defineTemplate({ namespace: ns, name: 'wide', version: '1.0.0' }).step('root', { handler: 'counted' }),
);
const wideTemplate = wide.build();
/** Handler runs by task and step name. */
const runs = new Map<string, number>();

type Seen = Omit<StepContext, 'signal' | 'logger' | 'checkpoint' | 'batch'>;
const seen = new Map<string, Seen[]>();
let engine: Engine | undefined;

function remember(ctx: StepContext): void {
  const rest: Seen = {
    taskUuid: ctx.taskUuid,
    stepUuid: ctx.stepUuid,
    stepName: ctx.stepName,
    namespace: ctx.namespace,
    templateName: ctx.templateName,
    templateVersion: ctx.templateVersion,
    correlationId: ctx.correlationId,
    context: ctx.context,
    inputs: ctx.inputs,
    dependencyResults: ctx.dependencyResults,
    attempt: ctx.attempt,
    maxAttempts: ctx.maxAttempts,
  };
  const list = seen.get(ctx.taskUuid) ?? [];
  list.push(structuredClone(rest));
  seen.set(ctx.taskUuid, list);
}

const handlers = [
  defineHandler('snap', (ctx) => (remember(ctx), { from: ctx.stepName, level: ctx.inputs.level })),
  defineHandler('nothing', (ctx) => void remember(ctx)),
  defineHandler('quick', () => 'p done'),
  defineHandler('counted', (ctx) => {
    const key = `${ctx.taskUuid}/${ctx.stepName}`;
    runs.set(key, (runs.get(key) ?? 0) + 1);
    return ctx.stepName;
  }),
  defineHandler('fails', (ctx) => {
    failures.set(ctx.taskUuid, (failures.get(ctx.taskUuid) ?? 0) + 1);
    throw new Error('no');
  }),
  // q finishes only once p's outcome has been written: p's completion, alone, claims q while q runs
  defineHandler('waits_for_p', async (ctx) => {
    while (!engine!.finished.some((e) => e.taskUuid === ctx.taskUuid && e.stepName === 'p')) {
      await new Promise((r) => setTimeout(r, 5));
    }
    remember(ctx);
    return ctx.dependencyResults;
  }),
];

describe('steps chained by the worker that ran their parents', () => {
  let db: TestDatabase;

  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await engine?.stop();
    await db?.drop();
  });

  async function run(chain: boolean): Promise<{ task: string; trail: string[]; seen: Seen[] }> {
    engine = await startEngine(db, {
      templates: [diamond, pair, fork],
      handlers,
      overrides: { worker: { chain_local_steps: chain } },
    });
    try {
      const made = await engine.orchestrator.createTask({
        namespace: ns,
        name: 'diamond',
        context: { c: 1 },
      });
      const view = await waitForTask(db.pool, made.taskUuid);
      expect(view.state).toBe('complete');
      expect(engine.worker.stats.chained > 0).toBe(chain);
      const trail = await db.pool.query<{ line: string }>(
        `SELECT s.name || ' ' || coalesce(t.from_state, '-') || '>' || t.to_state || ' @' || s.attempts AS line
         FROM tasker.workflow_step_transitions t JOIN tasker.workflow_steps s USING (step_uuid)
         WHERE s.task_uuid = $1 ORDER BY s.name, t.sort_key`,
        [made.taskUuid],
      );
      const uuids = await db.pool.query<{ name: string; step_uuid: string }>(
        'SELECT name, step_uuid FROM tasker.workflow_steps WHERE task_uuid = $1',
        [made.taskUuid],
      );
      const byName = new Map(uuids.rows.map((r) => [r.name, r.step_uuid]));
      const contexts = seen.get(made.taskUuid) ?? [];
      for (const ctx of contexts) expect(ctx.stepUuid).toBe(byName.get(ctx.stepName));
      return { task: made.taskUuid, trail: trail.rows.map((r) => r.line), seen: contexts };
    } finally {
      await engine.stop();
      engine = undefined;
    }
  }

  it('gives a chained handler the context a claimed one gets, and leaves the same audit trail', async () => {
    const on = await run(true);
    const off = await run(false);
    const comparable = (r: { task: string; seen: Seen[] }): unknown[] =>
      r.seen
        .map(({ taskUuid: _t, stepUuid: _u, correlationId: _c, ...rest }) => rest)
        .sort((a, b) => a.stepName.localeCompare(b.stepName));
    expect(comparable(on)).toEqual(comparable(off));
    expect(comparable(on)).toHaveLength(4);
    const bottom = on.seen.find((s) => s.stepName === 'bottom')!;
    expect(bottom).toMatchObject({
      attempt: 1,
      maxAttempts: 4,
      context: { c: 1 },
      dependencyResults: { top: { from: 'top', level: 0 }, left: { from: 'left', level: 1 }, right: null },
    });
    expect(on.trail).toEqual(off.trail);
  });

  it('a chained failure is written as its claimed attempt: the handler runs once, the task fails as without chaining', async () => {
    const outcomes: unknown[] = [];
    for (const chain of [true, false]) {
      engine = await startEngine(db, {
        templates: [diamond, pair, fork],
        handlers,
        overrides: { worker: { chain_local_steps: chain } },
      });
      try {
        const made = await engine.orchestrator.createTask({ namespace: ns, name: 'fork', context: {} });
        const view = await waitForTask(db.pool, made.taskUuid);
        expect(failures.get(made.taskUuid)).toBe(1);
        if (chain) expect(engine.worker.stats.chained).toBe(2);
        expect(engine.worker.stats.chainedRefused).toBe(0);
        outcomes.push({
          state: view.state,
          steps: view.steps.map((st) => `${st.name}:${st.state}@${st.attempts}`).sort(),
        });
      } finally {
        await engine.stop();
        engine = undefined;
      }
    }
    expect(outcomes[0]).toEqual(outcomes[1]);
    expect(outcomes[0]).toMatchObject({
      state: 'error',
      steps: ['a:complete@1', 'b:error@1', 'c:complete@1'],
    });
  });

  it('a chained step still running when its parent is written takes over the claim and runs once', async () => {
    engine = await startEngine(db, { templates: [diamond, pair, fork], handlers });
    const made = await engine.orchestrator.createTask({ namespace: ns, name: 'pair', context: {} });
    const view = await waitForTask(db.pool, made.taskUuid);
    expect(view.state).toBe('complete');
    expect(seen.get(made.taskUuid)?.map((s) => s.stepName)).toEqual(['q']);
    const stats = engine.worker.stats;
    expect(stats.chained).toBe(1);
    // q's outcome was written as the claimed attempt it became, not as chained
    expect(stats.chainedWritten).toBe(0);
    expect(stats.chainedRefused).toBe(0);
    const q = await db.pool.query<{ attempts: number; result: unknown }>(
      `SELECT attempts, results->'result' AS result FROM tasker.workflow_steps WHERE task_uuid = $1 AND name = 'q'`,
      [made.taskUuid],
    );
    expect(q.rows[0]).toEqual({ attempts: 1, result: { p: 'p done' } });
    expect(engine.finished.filter((e) => e.taskUuid === made.taskUuid).map((e) => e.stepName)).toEqual([
      'p',
      'q',
    ]);
  });

  it('runs each handler of a wide fan-out once: children still running when the root is written are claimed here', async () => {
    await engine?.stop();
    // Batches of 5 outcomes: the root's batch holds only 4 of the children chained after it.
    engine = await startEngine(db, {
      templates: [wideTemplate],
      handlers,
      overrides: { worker: { completion_batch_size: 5 } },
    });
    const made = await engine.orchestrator.createTask({ namespace: ns, name: 'wide', context: {} });
    const view = await waitForTask(db.pool, made.taskUuid);
    expect(view.state).toBe('complete');
    const counts = [...runs].filter(([k]) => k.startsWith(`${made.taskUuid}/`)).map(([, n]) => n);
    expect(counts).toHaveLength(61);
    expect(counts.every((n) => n === 1)).toBe(true);
    const stats = engine.worker.stats;
    expect(stats.chained).toBeGreaterThan(0);
    expect(stats.chainedRefused).toBe(0);
    const attempts = await db.pool.query<{ attempts: number }>(
      'SELECT DISTINCT attempts FROM tasker.workflow_steps WHERE task_uuid = $1',
      [made.taskUuid],
    );
    expect(attempts.rows).toEqual([{ attempts: 1 }]);
  });
});
