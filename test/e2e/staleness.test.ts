import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listDlq } from '../../src/orchestration/operations.js';
import { getTask } from '../../src/orchestration/task-queries.js';
import { defineTemplate } from '../../src/templates/index.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { startEngine, waitForTask, type Engine } from '../support/engine.js';

// No worker serves this namespace: its tasks sit in steps_in_process with an enqueued step for ever.
const orphan = defineTemplate({ namespace: 'stale_e2e', name: 'orphan', version: '1.0.0' })
  .step('nobody_runs_me', { handler: 'unserved' })
  .build();

describe('staleness detection', () => {
  let db: TestDatabase;
  let engine: Engine;

  beforeAll(async () => {
    db = await createTestDatabase();
    engine = await startEngine(db, {
      templates: [orphan],
      handlers: [],
      startWorker: false,
      overrides: { orchestration: { staleness: { enabled: false, steps_in_process_seconds: 1 } } },
    });
  });
  afterAll(async () => {
    await engine?.stop();
    await db?.drop();
  });

  it('a dry run reports a stuck task and changes nothing', async () => {
    const { taskUuid } = await engine.orchestrator.createTask({
      namespace: 'stale_e2e',
      name: 'orphan',
      context: {},
    });
    await db.pool.query(
      `UPDATE tasker.task_transitions SET created_at = now() - interval '10 seconds' WHERE task_uuid = $1
       AND sort_key = (SELECT max(x.sort_key) FROM tasker.task_transitions x WHERE x.task_uuid = $1)`,
      [taskUuid],
    );
    const dry = await db.pool.query<{ task_uuid: string; action: string }>(
      `SELECT * FROM tasker.detect_stale_tasks($1, 100, true, 'test')`,
      [
        JSON.stringify({
          steps_in_process_seconds: 1,
          waiting_for_retry_seconds: 1,
          blocked_by_failures_seconds: 1,
          max_lifetime_seconds: 3600,
        }),
      ],
    );
    expect(dry.rows.filter((r) => r.task_uuid === taskUuid).map((r) => r.action)).toEqual([
      'would_move_to_error',
    ]);
    expect((await getTask(db.pool, taskUuid))!.state).toBe('steps_in_process');
  });

  it('moves a task stuck past its threshold to error with exactly one staleness DLQ entry', async () => {
    const { taskUuid } = await engine.orchestrator.createTask({
      namespace: 'stale_e2e',
      name: 'orphan',
      context: {},
    });
    // Not yet past the threshold: nothing happens.
    expect((await engine.orchestrator.staleness.runOnce()).map((t) => t.taskUuid)).not.toContain(taskUuid);
    await new Promise((r) => setTimeout(r, 1100));
    const found = await engine.orchestrator.staleness.runOnce();
    expect(found.find((t) => t.taskUuid === taskUuid)).toMatchObject({
      state: 'steps_in_process',
      action: 'moved_to_error',
    });

    const task = await waitForTask(db.pool, taskUuid);
    expect(task.state).toBe('error');
    expect(task.error).toMatchObject({ error: { code: 'STALENESS_TIMEOUT' } });
    const entries = (await listDlq(db.pool, { reason: 'staleness_timeout' })).items.filter(
      (e) => e.taskUuid === taskUuid,
    );
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({ originalState: 'steps_in_process', resolutionStatus: 'pending' });
    expect(entries[0]!.taskSnapshot).toMatchObject({
      state: 'steps_in_process',
      steps: [{ name: 'nobody_runs_me', state: 'enqueued' }],
    });

    // A second pass finds nothing new and files no second entry.
    expect((await engine.orchestrator.staleness.runOnce()).map((t) => t.taskUuid)).not.toContain(taskUuid);
    const again = (await listDlq(db.pool, { reason: 'staleness_timeout' })).items.filter(
      (e) => e.taskUuid === taskUuid,
    );
    expect(again).toHaveLength(1);
    const audit = await db.pool.query<{ to_state: string; event: string }>(
      `SELECT to_state, event FROM tasker.task_transitions WHERE task_uuid = $1 ORDER BY sort_key`,
      [taskUuid],
    );
    expect(audit.rows.slice(-3).map((r) => r.to_state)).toEqual([
      'evaluating_results',
      'blocked_by_failures',
      'error',
    ]);
  });
});
