import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import { exampleHandlers } from '../../examples/handlers.js';
import { loadTemplatesFromDir } from '../../src/templates/index.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { startEngine, waitForTask, type Engine } from '../support/engine.js';

const templatesDir = fileURLToPath(new URL('../../examples/templates', import.meta.url));

describe.each([
  ['four transactions per step (orchestrator resolves)', false],
  ['fast path (worker resolves in its completion transaction)', true],
])('example workflows run end to end: %s', (_mode, resolveInCompletion) => {
  let db: TestDatabase;
  let engine: Engine;

  beforeAll(async () => {
    db = await createTestDatabase();
    engine = await startEngine(db, {
      templates: await loadTemplatesFromDir(templatesDir),
      handlers: exampleHandlers,
      overrides: { worker: { resolve_in_completion: resolveInCompletion } },
    });
  });
  afterAll(async () => {
    await engine?.stop();
    await db?.drop();
  });

  async function run(name: string, namespace: string, context: Record<string, unknown>) {
    const created = await engine.orchestrator.createTask({ namespace, name, context });
    return waitForTask(db.pool, created.taskUuid);
  }
  const value = (task: Awaited<ReturnType<typeof run>>, step: string) =>
    (task.steps.find((s) => s.name === step)?.result as { value: number }).value;

  it('linear: each step squares the previous one', async () => {
    const task = await run('linear_workflow', 'examples', { even_number: 2 });
    expect(task.state).toBe('complete');
    expect(task.steps.map((s) => [s.name, s.state, s.attempts])).toEqual([
      ['linear_step_1', 'complete', 1],
      ['linear_step_2', 'complete', 1],
      ['linear_step_3', 'complete', 1],
      ['linear_step_4', 'complete', 1],
    ]);
    expect(value(task, 'linear_step_4')).toBe(2 ** 16);
  });

  it('diamond: both branches run and join', async () => {
    const task = await run('diamond_workflow', 'examples', { even_number: 3 });
    expect(task.state).toBe('complete');
    expect(value(task, 'diamond_end')).toBe(9 ** 2 + 9 ** 3);
  });

  it('complex DAG: convergence sees every ancestor', async () => {
    const task = await run('complex_dag_workflow', 'examples', { even_number: 2 });
    expect(task.state).toBe('complete');
    const init = 4;
    const analyze = (init ** 2) ** 2 + (init ** 3) ** 2;
    expect(value(task, 'dag_analyze')).toBe(analyze);
    expect(value(task, 'dag_finalize')).toBe(analyze + init);
  });

  it('tree: the final step joins four leaves', async () => {
    const task = await run('tree_workflow', 'examples', { even_number: 2 });
    expect(task.state).toBe('complete');
    expect(task.steps).toHaveLength(8);
    expect(value(task, 'tree_final_convergence')).toBe(4 * 4 ** 4);
  });

  it('order fulfilment: payment fails once and succeeds on retry', async () => {
    const task = await run('order_fulfillment', 'ecommerce', {
      order_id: 'A-1',
      items: [{ sku: 'KB-1', quantity: 2, price: 49.5 }],
    });
    expect(task.state).toBe('complete');
    const payment = task.steps.find((s) => s.name === 'process_payment')!;
    expect(payment.attempts).toBe(2);
    expect(payment.result).toMatchObject({ amount_charged: 99, attempt: 2 });
    const ship = task.steps.find((s) => s.name === 'ship_order')!;
    expect(ship.result).toEqual({ tracking_number: 'TRK-A-1', payment_id: 'pay-A-1' });
  });

  it('settles results on the path the configuration selects', async () => {
    const before = engine.orchestrator.stats.resultsProcessed;
    const task = await run('linear_workflow', 'examples', { even_number: 3 });
    expect(task.state).toBe('complete');
    // The orchestrator sees result messages only on the four-transaction path.
    expect(engine.orchestrator.stats.resultsProcessed - before).toBe(resolveInCompletion ? 0 : 4);
  });
});
