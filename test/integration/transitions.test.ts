import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerTemplate } from '../../src/orchestration/template-registry.js';
import { defineTemplate } from '../../src/templates/index.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';

interface PgError {
  code: string;
  constraint?: string;
}

async function pgError(p: Promise<unknown>): Promise<PgError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  if (!e) throw new Error('expected the statement to fail');
  return e as PgError;
}

interface StepRow {
  step_uuid: string;
  name: string;
  state: string;
  attempts: number;
}

interface TransitionRow {
  from_state: string | null;
  to_state: string;
  event: string;
  sort_key: number;
  processor: string | null;
}

interface TemplateId {
  namespace: string;
  name: string;
  version: string;
}

interface ClaimRow {
  msg_id: string;
  step_uuid: string;
  attempt: number;
  step_name: string;
}

describe('the database enforces the transition protocol', () => {
  let db: TestDatabase;
  const flowTemplate = { namespace: 'tx_flow', name: 'two_steps', version: '1.0.0' };

  beforeAll(async () => {
    db = await createTestDatabase();
    const flow = defineTemplate(flowTemplate)
      .step('first', { handler: 'tx.first' })
      .step('second', { handler: 'tx.second', dependsOn: ['first'] })
      .build();
    expect((await registerTemplate(db.pool, flow)).created).toBe(true);
  });
  afterAll(async () => {
    await db?.drop();
  });

  async function createTask(template: TemplateId): Promise<{ taskUuid: string; steps: StepRow[] }> {
    const res = await db.pool.query<{ task_uuid: string }>(
      `SELECT * FROM tasker.create_task($1, $2, $3, $4, '{}', 'test')`,
      [template.namespace, template.name, template.version, JSON.stringify({ n: 1 })],
    );
    const taskUuid = res.rows[0]!.task_uuid;
    const steps = await db.pool.query<StepRow>(
      'SELECT step_uuid, name, state, attempts FROM tasker.workflow_steps WHERE task_uuid = $1 ORDER BY name',
      [taskUuid],
    );
    return { taskUuid, steps: steps.rows };
  }

  async function stepTransitions(
    stepUuid: string,
    q: Pick<pg.Pool, 'query'> = db.pool,
  ): Promise<TransitionRow[]> {
    const res = await q.query<TransitionRow>(
      `SELECT from_state, to_state, event, sort_key, processor
       FROM tasker.workflow_step_transitions WHERE step_uuid = $1 ORDER BY sort_key`,
      [stepUuid],
    );
    return res.rows;
  }

  /** Runs `fn` in a transaction that is always rolled back, so a test's probing leaves no trace. */
  async function rolledBack<T>(fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    const c = await db.pool.connect();
    try {
      await c.query('BEGIN');
      return await fn(c);
    } finally {
      await c.query('ROLLBACK').catch(() => {});
      c.release();
    }
  }

  it('create_task writes a consistent audit trail (each ends in its current state)', async () => {
    const { taskUuid, steps } = await createTask(flowTemplate);
    expect(steps.map((s) => [s.name, s.state])).toEqual([
      ['first', 'enqueued'],
      ['second', 'pending'],
    ]);
    const first = await stepTransitions(steps[0]!.step_uuid);
    expect(first.map((t) => [t.from_state, t.to_state, t.sort_key])).toEqual([
      [null, 'pending', 1],
      ['pending', 'enqueued', 2],
    ]);
    const second = await stepTransitions(steps[1]!.step_uuid);
    expect(second.map((t) => [t.from_state, t.to_state, t.sort_key])).toEqual([[null, 'pending', 1]]);
    const task = await db.pool.query<{ from_state: string | null; to_state: string; sort_key: number }>(
      'SELECT from_state, to_state, sort_key FROM tasker.task_transitions WHERE task_uuid = $1 ORDER BY sort_key',
      [taskUuid],
    );
    expect(task.rows.map((r) => [r.from_state, r.to_state, r.sort_key])).toEqual([
      [null, 'pending', 1],
      ['pending', 'initializing', 2],
      ['initializing', 'enqueuing_steps', 3],
      ['enqueuing_steps', 'steps_in_process', 4],
    ]);
  });

  it('a second row at the same place in a trail violates the primary key (a trail cannot fork)', async () => {
    const { taskUuid, steps } = await createTask(flowTemplate);
    const step = steps.find((s) => s.name === 'first')!;
    await rolledBack(async (c) => {
      await c.query(
        `INSERT INTO tasker.workflow_step_transitions (step_uuid, from_state, to_state, event, sort_key)
         VALUES ($1, 'enqueued', 'in_progress', 'Start', 3)`,
        [step.step_uuid],
      );
      const dup = await pgError(
        c.query(
          `INSERT INTO tasker.workflow_step_transitions (step_uuid, from_state, to_state, event, sort_key)
           VALUES ($1, 'enqueued', 'in_progress', 'Start', 3)`,
          [step.step_uuid],
        ),
      );
      expect(dup.code).toBe('23505');
      expect(dup.constraint).toBe('workflow_step_transitions_pkey');
    });
    const err = await rolledBack((c) =>
      pgError(
        c.query(
          `INSERT INTO tasker.task_transitions (task_uuid, from_state, to_state, event, sort_key)
           VALUES ($1, 'steps_in_process', 'evaluating_results', 'StepCompleted', 4)`,
          [taskUuid],
        ),
      ),
    );
    expect(err.code).toBe('23505');
    expect(err.constraint).toBe('task_transitions_pkey');
    expect(await stepTransitions(step.step_uuid)).toHaveLength(2);
  });

  it('a transition whose (from, to) pair is not allowed is rejected by the database', async () => {
    const { taskUuid, steps } = await createTask(flowTemplate);
    const step = steps[0]!;
    for (const [from, to] of [
      ['enqueued', 'waiting_for_retry'],
      ['complete', 'enqueued'],
      ['pending', 'in_progress'],
      ['cancelled', 'enqueued'],
      [null, 'complete'],
    ] as const) {
      const err = await rolledBack((c) =>
        pgError(
          c.query(
            `INSERT INTO tasker.workflow_step_transitions (step_uuid, from_state, to_state, event, sort_key)
             VALUES ($1, $2, $3, 'Bogus', 100)`,
            [step.step_uuid, from, to],
          ),
        ),
      );
      expect(err.code, `${from} -> ${to}`).toBe('23514');
      expect(err.constraint).toBe('workflow_step_transitions_check');
    }
    // An allowed pair goes in (so the rejections above are about the pair, not the row).
    await rolledBack((c) =>
      c.query(
        `INSERT INTO tasker.workflow_step_transitions (step_uuid, from_state, to_state, event, sort_key)
         VALUES ($1, 'enqueued', 'in_progress', 'Start', 100)`,
        [step.step_uuid],
      ),
    );
    // An unknown state is rejected as well.
    const unknown = await rolledBack((c) =>
      pgError(
        c.query(
          `INSERT INTO tasker.workflow_step_transitions (step_uuid, from_state, to_state, event, sort_key)
           VALUES ($1, 'enqueued', 'teleported', 'Bogus', 100)`,
          [step.step_uuid],
        ),
      ),
    );
    expect(unknown.code).toBe('23514');

    // Tasks too: complete -> steps_in_process is not a transition.
    const taskErr = await rolledBack((c) =>
      pgError(
        c.query(
          `INSERT INTO tasker.task_transitions (task_uuid, from_state, to_state, event, sort_key)
           VALUES ($1, 'complete', 'steps_in_process', 'Bogus', 100)`,
          [taskUuid],
        ),
      ),
    );
    expect(taskErr.code).toBe('23514');
    expect(taskErr.constraint).toBe('task_transitions_check');
    // Only a task's first row may have no from_state, and it must enter 'pending'.
    const nullFrom = await rolledBack((c) =>
      pgError(
        c.query(
          `INSERT INTO tasker.task_transitions (task_uuid, from_state, to_state, event, sort_key)
           VALUES ($1, NULL, 'complete', 'Bogus', 100)`,
          [taskUuid],
        ),
      ),
    );
    expect(nullFrom.code).toBe('23514');
    // The state column of the row itself only accepts known states.
    const stateErr = await pgError(
      db.pool.query(`UPDATE tasker.workflow_steps SET state = 'teleported' WHERE step_uuid = $1`, [
        step.step_uuid,
      ]),
    );
    expect(stateErr.code).toBe('23514');
    expect(stateErr.constraint).toBe('workflow_steps_state_check');
    const taskStateErr = await pgError(
      db.pool.query(`UPDATE tasker.tasks SET state = 'teleported' WHERE task_uuid = $1`, [taskUuid]),
    );
    expect(taskStateErr.code).toBe('23514');
    expect(taskStateErr.constraint).toBe('tasks_state_check');
  });

  it('tasker.uuid_generate_v7() returns version-7 UUIDs that sort by creation time', async () => {
    const generated: { id: string; before: string; after: string }[] = [];
    for (let i = 0; i < 20; i++) {
      const res = await db.pool.query<{ id: string; before: string; after: string }>(
        `SELECT floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint AS before,
                tasker.uuid_generate_v7() AS id,
                floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint AS after`,
      );
      generated.push(res.rows[0]!);
      // Let the millisecond clock move on: UUIDv7 orders by millisecond, not within one.
      await db.pool.query('SELECT pg_sleep(0.003)');
    }
    for (const g of generated) {
      expect(g.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      const ms = parseInt(g.id.replace(/-/g, '').slice(0, 12), 16);
      expect(ms).toBeGreaterThanOrEqual(Number(g.before));
      expect(ms).toBeLessThanOrEqual(Number(g.after));
    }
    const ids = generated.map((g) => g.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect([...ids].sort()).toEqual(ids);
    // PostgreSQL's own uuid ordering agrees with the string order.
    const sorted = await db.pool.query<{ id: string }>(
      'SELECT id FROM unnest($1::uuid[]) AS id ORDER BY id',
      [[...ids].reverse()],
    );
    expect(sorted.rows.map((r) => r.id)).toEqual(ids);
    // Random bits differ even within one statement.
    const many = await db.pool.query<{ n: number }>(
      'SELECT count(DISTINCT tasker.uuid_generate_v7())::int AS n FROM generate_series(1, 1000)',
    );
    expect(many.rows[0]!.n).toBe(1000);
  });

  describe('compare-and-swap under concurrency', () => {
    const casTemplate = { namespace: 'tx_cas', name: 'one_step', version: '1.0.0' };
    const queue = 'worker_tx_cas_queue';
    let clients: pg.PoolClient[] = [];

    beforeAll(async () => {
      const t = defineTemplate(casTemplate)
        .step('only', { handler: 'tx.only', retry: { maxAttempts: 3 } })
        .build();
      await registerTemplate(db.pool, t);
    });

    async function connectAll(n: number): Promise<pg.PoolClient[]> {
      const cs: pg.PoolClient[] = [];
      for (let i = 0; i < n; i++) cs.push(await db.pool.connect());
      clients = cs;
      return cs;
    }
    function releaseAll(): void {
      for (const c of clients) c.release();
      clients = [];
    }

    function completion(stepUuid: string, msgId: string, attempt: number, value: number): string {
      return JSON.stringify([
        {
          step_uuid: stepUuid,
          msg_id: msgId,
          attempt,
          success: true,
          results: { success: true, result: { value } },
        },
      ]);
    }

    it('exactly one of 10 concurrent claims wins, and exactly one of 10 concurrent completes applies', async () => {
      const { steps } = await createTask(casTemplate);
      const step = steps[0]!;
      expect(step.state).toBe('enqueued');

      const cs = await connectAll(10);
      let claims: ClaimRow[][];
      try {
        claims = await Promise.all(
          cs.map(async (c, i) => {
            const r = await c.query<ClaimRow>(`SELECT * FROM tasker.claim_steps($1, 10, 30, $2)`, [
              queue,
              `w${i}`,
            ]);
            return r.rows;
          }),
        );
      } finally {
        releaseAll();
      }
      const winners = claims.map((rows, i) => ({ rows, worker: `w${i}` })).filter((c) => c.rows.length > 0);
      expect(winners).toHaveLength(1);
      const won = winners[0]!;
      expect(won.rows).toHaveLength(1);
      const claim = won.rows[0]!;
      expect(claim).toMatchObject({ step_uuid: step.step_uuid, attempt: 1, step_name: 'only' });

      const row = await db.pool.query<StepRow>(
        'SELECT state, attempts FROM tasker.workflow_steps WHERE step_uuid = $1',
        [step.step_uuid],
      );
      expect(row.rows[0]).toEqual({ state: 'in_progress', attempts: 1 });
      let audit = await stepTransitions(step.step_uuid);
      const starts = audit.filter((t) => t.from_state === 'enqueued' && t.to_state === 'in_progress');
      expect(starts).toHaveLength(1);
      expect(starts[0]).toMatchObject({ event: 'Start', processor: won.worker });
      expect(audit.at(-1)).toBe(starts[0]);

      // A late claimer finds nothing: the message is hidden for the lease.
      const late = await db.pool.query(`SELECT * FROM tasker.claim_steps($1, 10, 30, 'late')`, [queue]);
      expect(late.rows).toEqual([]);

      // A completion for the wrong attempt is refused and changes nothing.
      const wrong = await db.pool.query<{ step_uuid: string; applied: boolean }>(
        `SELECT * FROM tasker.complete_steps($1, 'wrong')`,
        [completion(step.step_uuid, claim.msg_id, 2, -1)],
      );
      expect(wrong.rows).toEqual([
        { step_uuid: step.step_uuid, attempt: 2, applied: false, finalized: null, claimed: null },
      ]);
      const still = await db.pool.query(
        'SELECT state, results FROM tasker.workflow_steps WHERE step_uuid = $1',
        [step.step_uuid],
      );
      expect(still.rows[0]).toEqual({ state: 'in_progress', results: null });

      const cs2 = await connectAll(10);
      let completes: { step_uuid: string; applied: boolean }[][];
      try {
        completes = await Promise.all(
          cs2.map(async (c, i) => {
            const r = await c.query<{ step_uuid: string; applied: boolean }>(
              `SELECT * FROM tasker.complete_steps($1, $2)`,
              [completion(step.step_uuid, claim.msg_id, 1, i), `c${i}`],
            );
            return r.rows;
          }),
        );
      } finally {
        releaseAll();
      }
      for (const rows of completes) expect(rows).toHaveLength(1);
      const applied = completes.map((rows, i) => ({ i, applied: rows[0]!.applied })).filter((r) => r.applied);
      expect(applied).toHaveLength(1);
      const winner = applied[0]!.i;

      const done = await db.pool.query<{ state: string; results: { result: { value: number } } }>(
        'SELECT state, results FROM tasker.workflow_steps WHERE step_uuid = $1',
        [step.step_uuid],
      );
      expect(done.rows[0]!.state).toBe('enqueued_for_orchestration');
      // The stored result is the winner's, not a later loser's.
      expect(done.rows[0]!.results.result.value).toBe(winner);
      audit = await stepTransitions(step.step_uuid);
      expect(audit.map((t) => [t.from_state, t.to_state, t.sort_key])).toEqual([
        [null, 'pending', 1],
        ['pending', 'enqueued', 2],
        ['enqueued', 'in_progress', 3],
        ['in_progress', 'enqueued_for_orchestration', 4],
      ]);
      expect(audit[3]!.processor).toBe(`c${winner}`);

      // The work message is gone and exactly one result message was sent to the orchestrator.
      const work = await db.pool.query('SELECT 1 FROM tasker.queue_messages WHERE msg_id = $1', [
        claim.msg_id,
      ]);
      expect(work.rowCount).toBe(0);
      const results = await db.pool.query(
        `SELECT 1 FROM tasker.queue_messages
         WHERE queue_name = 'orchestration_step_results' AND message->>'step_uuid' = $1`,
        [step.step_uuid],
      );
      expect(results.rowCount).toBe(1);

      // Completing again, even with the right attempt, is refused.
      const again = await db.pool.query<{ applied: boolean }>(
        `SELECT * FROM tasker.complete_steps($1, 'again')`,
        [completion(step.step_uuid, claim.msg_id, 1, 99)],
      );
      expect(again.rows).toEqual([
        { step_uuid: step.step_uuid, attempt: 1, applied: false, finalized: null, claimed: null },
      ]);
    });

    it('after a lease expires the step is reclaimed as a new attempt, and the stale worker cannot complete it', async () => {
      const { steps } = await createTask(casTemplate);
      const step = steps[0]!;
      // Claim with a zero lease: the message is visible again at once, as if the worker had died.
      const first = await db.pool.query<ClaimRow>(`SELECT * FROM tasker.claim_steps($1, 10, 0, 'dead')`, [
        queue,
      ]);
      expect(first.rows.map((r) => [r.step_uuid, r.attempt])).toEqual([[step.step_uuid, 1]]);

      let second: ClaimRow[] = [];
      const deadline = Date.now() + 10_000;
      while (second.length === 0 && Date.now() < deadline) {
        second = (
          await db.pool.query<ClaimRow>(`SELECT * FROM tasker.claim_steps($1, 10, 30, 'alive')`, [queue])
        ).rows;
      }
      expect(second.map((r) => [r.step_uuid, r.attempt])).toEqual([[step.step_uuid, 2]]);

      const audit = await stepTransitions(step.step_uuid);
      expect(audit.map((t) => [t.from_state, t.to_state, t.event, t.processor])).toEqual([
        [null, 'pending', 'Create', 'test'],
        ['pending', 'enqueued', 'Enqueue', 'test'],
        ['enqueued', 'in_progress', 'Start', 'dead'],
        ['in_progress', 'enqueued', 'LeaseExpired', 'alive'],
        ['enqueued', 'in_progress', 'Start', 'alive'],
      ]);

      const stale = await db.pool.query<{ applied: boolean }>(
        `SELECT * FROM tasker.complete_steps($1, 'dead')`,
        [completion(step.step_uuid, first.rows[0]!.msg_id, 1, 1)],
      );
      expect(stale.rows[0]!.applied).toBe(false);
      // One batch can carry the stalled attempt's late outcome next to its replacement's (one worker ran both):
      // applied is reported per attempt, so the stale one is not mistaken for applied.
      const both = JSON.stringify([
        ...(JSON.parse(completion(step.step_uuid, first.rows[0]!.msg_id, 1, 1)) as unknown[]),
        ...(JSON.parse(completion(step.step_uuid, second[0]!.msg_id, 2, 2)) as unknown[]),
      ]);
      const fresh = await db.pool.query<{ attempt: number; applied: boolean }>(
        `SELECT * FROM tasker.complete_steps($1, 'alive')`,
        [both],
      );
      expect(fresh.rows.map((r) => [r.attempt, r.applied])).toEqual([
        [1, false],
        [2, true],
      ]);
      const row = await db.pool.query(
        'SELECT state, attempts FROM tasker.workflow_steps WHERE step_uuid = $1',
        [step.step_uuid],
      );
      expect(row.rows[0]).toEqual({ state: 'enqueued_for_orchestration', attempts: 2 });
    });
  });
});
