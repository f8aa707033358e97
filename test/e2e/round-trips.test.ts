import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defineTemplate } from '../../src/templates/index.js';
import { defineHandler } from '../../src/worker/handler.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { startEngine, type Engine } from '../support/engine.js';

/**
 * Counts every statement the engine sends while tasks run. Every engine statement is a single autocommitted
 * call, so statements = round trips = transactions. The per-step budget (docs/architecture.md): on the default
 * path a task created in a process with a worker starts its root step in the creating transaction, and the
 * steps the worker runs right after their parents (ADR 0011) are written with them, so a chain of quick steps is
 * one transaction; without chaining, one transaction per step, where the worker's completion resolves the step
 * and claims the next one for itself; four on
 * the path where orchestrators process results (`worker.resolve_in_completion = false`): enqueue (folded into the
 * previous step's result processing), claim, complete, process result.
 */
const ns = 'round_trips';
const linear = defineTemplate({ namespace: ns, name: 'linear', version: '1.0.0' })
  .step('a', { handler: 'noop' })
  .step('b', { handler: 'noop', dependsOn: ['a'] })
  .step('c', { handler: 'noop', dependsOn: ['b'] })
  .step('d', { handler: 'noop', dependsOn: ['c'] })
  .build();
const diamond = defineTemplate({ namespace: ns, name: 'diamond', version: '1.0.0' })
  .step('a', { handler: 'noop' })
  .step('b', { handler: 'noop', dependsOn: ['a'] })
  .step('c', { handler: 'noop', dependsOn: ['a'] })
  .step('d', { handler: 'noop', dependsOn: ['b', 'c'] })
  .build();

const HOUR = 3_600_000;
const calls: string[] = [];
// eslint-disable-next-line @typescript-eslint/unbound-method -- kept to be restored and called with apply()
const originalQuery = pg.Client.prototype.query;

function classify(text: string): string {
  const m =
    /tasker\.(create_task|claim_steps|complete_steps|process_step_results|enqueue_due_retries|set_vt)\b/.exec(
      text,
    );
  if (m) return m[1]!;
  if (/^\s*LISTEN\b/i.test(text)) return 'listen';
  return 'other';
}

function count(kind: string): number {
  return calls.filter((c) => c === kind).length;
}

async function until(predicate: () => boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** An engine with pollers and heartbeats off, so only notification-driven work remains to be counted. */
function quietEngine(db: TestDatabase, worker: Record<string, unknown> = {}): Promise<Engine> {
  return startEngine(db, {
    templates: [linear, diamond],
    handlers: [defineHandler('noop', () => ({ ok: true }))],
    overrides: {
      orchestration: {
        result_poll_interval_ms: HOUR,
        retry_poll_interval_ms: HOUR,
        staleness: { enabled: false },
      },
      worker: { poll_interval_ms: HOUR, heartbeat_interval_ms: HOUR, ...worker },
    },
  });
}

describe('round trips on the per-step path', () => {
  let db: TestDatabase;
  let engine: Engine;

  beforeAll(async () => {
    db = await createTestDatabase();
    engine = await quietEngine(db);
    // Let start-up wake-ups (one empty read per loop) settle before counting.
    await new Promise((r) => setTimeout(r, 300));
    pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
      const first = args[0];
      const text = typeof first === 'string' ? first : ((first as { text?: string }).text ?? '');
      calls.push(classify(text));
      return (originalQuery as (...a: unknown[]) => unknown).apply(this, args);
    } as typeof pg.Client.prototype.query;
  });
  afterAll(async () => {
    pg.Client.prototype.query = originalQuery;
    await engine?.stop();
    await db?.drop();
  });

  it('a linear-4 task of quick steps costs one create and one completion', async () => {
    calls.length = 0;
    const before = engine.finished.length;
    const chained = engine.worker.stats.chainedWritten;
    await engine.orchestrator.createTask({ namespace: ns, name: 'linear', context: {} });
    await until(() => engine.finished.length === before + 4);

    expect(count('create_task')).toBe(1);
    // The root step was claimed by create_task; b, c and d ran here right after their parents (ADR 0011), and
    // one completion wrote all four.
    expect(count('claim_steps')).toBe(0);
    expect(count('complete_steps')).toBe(1);
    expect(count('process_step_results')).toBe(0);
    expect(count('other')).toBe(0);
    expect(engine.worker.stats.chainedWritten - chained).toBe(3);
  });

  it('a diamond of quick steps costs one create and one completion too', async () => {
    calls.length = 0;
    const before = engine.finished.length;
    await engine.orchestrator.createTask({ namespace: ns, name: 'diamond', context: {} });
    await until(() => engine.finished.length === before + 4);

    expect(count('create_task')).toBe(1);
    expect(count('claim_steps')).toBe(0);
    // b and c run after a, d after both; one completion writes the four.
    expect(count('complete_steps')).toBe(1);
    expect(count('other')).toBe(0);
  });

  it('many tasks at once share round trips through batching', async () => {
    calls.length = 0;
    const before = engine.finished.length;
    const tasks = 50;
    await Promise.all(
      Array.from({ length: tasks }, () =>
        engine.orchestrator.createTask({ namespace: ns, name: 'linear', context: {} }),
      ),
    );
    await until(() => engine.finished.length === before + tasks * 4);
    const steps = tasks * 4;
    const perStepPath = count('claim_steps') + count('complete_steps') + count('process_step_results');
    expect(count('create_task')).toBe(tasks);
    expect(count('other')).toBe(0);
    expect(count('process_step_results')).toBe(0);
    // At most one statement per step; batching completions does better.
    expect(perStepPath).toBeLessThanOrEqual(steps);
  });

  it('without chaining, a step costs one round trip, and siblings finishing together share one', async () => {
    const unchained = await quietEngine(db, { chain_local_steps: false });
    try {
      // Only this engine serves the namespace while it runs.
      await engine.worker.stop();
      await engine.orchestrator.stop();
      await new Promise((r) => setTimeout(r, 300));
      calls.length = 0;
      let before = unchained.finished.length;
      await unchained.orchestrator.createTask({ namespace: ns, name: 'linear', context: {} });
      await until(() => unchained.finished.length === before + 4);
      await until(() => count('complete_steps') === 4);
      expect(count('create_task')).toBe(1);
      // The root step was claimed by create_task, each next step by the completion of the one before.
      expect(count('claim_steps')).toBe(0);
      expect(count('complete_steps')).toBe(4);
      expect(count('other')).toBe(0);
      expect(unchained.worker.stats.selfClaimed).toBeGreaterThanOrEqual(4);
      expect(unchained.worker.stats.chained).toBe(0);

      calls.length = 0;
      before = unchained.finished.length;
      await unchained.orchestrator.createTask({ namespace: ns, name: 'diamond', context: {} });
      await until(() => unchained.finished.length === before + 4);
      // a's completion claims b and c; their handlers finish in one turn of the event loop, so one completion
      // writes both and claims d; d's completion finishes the task.
      expect(count('complete_steps')).toBe(3);
      expect(count('other')).toBe(0);
    } finally {
      await unchained.stop();
    }
  });

  it('with results processed by orchestrators, a step costs at most four round trips', async () => {
    const four = await quietEngine(db, { resolve_in_completion: false });
    try {
      // Only this engine serves the namespace and processes results while it runs.
      await engine.worker.stop();
      await engine.orchestrator.stop();
      await new Promise((r) => setTimeout(r, 300));
      calls.length = 0;
      const before = four.orchestrator.stats.tasksFinalized;
      await four.orchestrator.createTask({ namespace: ns, name: 'linear', context: {} });
      await until(() => four.orchestrator.stats.tasksFinalized === before + 1);
      expect(count('create_task')).toBe(1);
      expect(count('complete_steps')).toBe(4);
      expect(count('process_step_results')).toBe(4);
      // The root step too: task creation claims only for a worker that resolves in its completions.
      expect(count('claim_steps')).toBe(4);
      expect(count('other')).toBe(0);
      const perStep = count('claim_steps') + count('complete_steps') + count('process_step_results');
      expect(perStep / 4).toBeLessThanOrEqual(4);
    } finally {
      await four.stop();
    }
  });
});
