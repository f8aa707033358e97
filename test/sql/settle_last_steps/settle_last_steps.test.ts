/**
 * settle_last_steps, complete_steps' path for a batch that completes every one of its tasks (ADR 0014). For the
 * same batch it must leave exactly what the path it stands in for leaves (start_chained_steps, then
 * settle_successes): step states, audit trails, task counters and trail, messages, domain events and the rows
 * returned; and a batch it may not take must reach that path untouched. Each way runs in its own rolled-back
 * transaction from the same starting point, and the pictures are compared.
 */
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { workerQueueName } from '../../../src/contract/names.js';
import { stepUuidFor } from '../../../src/contract/step-uuid.js';
import { defineTemplate } from '../../../src/templates/index.js';
import type { TaskTemplate } from '../../../src/templates/types.js';
import { createTestDatabase, type TestDatabase } from '../../support/db.js';
import { chainedEntry, sqlTestDatabase, taskOf, taskPicture, type ResultEntry } from '../support.js';
import { chain3, diamond4, partsNamespace } from '../templates.js';

const ns = partsNamespace;
const QUEUE = workerQueueName(ns);
const chain = chain3;
const diamond = diamond4;
// two roots; `y` waits for both
const join = defineTemplate({ namespace: ns, name: 'join', version: '1.0.0' })
  .step('r', { handler: 'h' })
  .step('x', { handler: 'h' })
  .step('y', { handler: 'h', dependsOn: ['r', 'x'] })
  .build();
// two steps that wait for nothing
const pair = defineTemplate({ namespace: ns, name: 'pair', version: '1.0.0' })
  .step('p', { handler: 'h' })
  .step('q', { handler: 'h' })
  .build();

const { inRollback } = sqlTestDatabase();

type Entry = ResultEntry;

interface Row {
  step_uuid: string;
  attempt: number;
  applied: boolean;
  finalized: unknown;
  claimed: unknown;
}

/** The claimed steps of the worker's queue, by name. */
async function claimAll(c: pg.PoolClient): Promise<Map<string, Entry>> {
  const res = await c.query<{
    msg_id: string;
    step_uuid: string;
    attempt: number;
    step_name: string;
    task_uuid: string;
  }>('SELECT msg_id, step_uuid, attempt, step_name, task_uuid FROM tasker.claim_steps($1, 20, 30, $2)', [
    QUEUE,
    'w',
  ]);
  return new Map(
    res.rows.map((r) => [
      `${r.task_uuid}/${r.step_name}`,
      {
        step_uuid: r.step_uuid,
        msg_id: String(r.msg_id),
        attempt: r.attempt,
        success: true,
        results: { success: true, result: { by: r.step_name }, metadata: {} },
        events: [{ namespace: ns, name: 'step.done', payload: { by: r.step_name } }],
      },
    ]),
  );
}

const chained = (task: string, name: string): Entry =>
  chainedEntry(task, name, { results: { success: true, result: { by: name }, metadata: {} } });

type Way = 'complete_steps' | 'settle_successes';

/**
 * The batch settled one way: through complete_steps, or by the two functions complete_steps called for it before
 * settle_last_steps existed. Returns the rows and which of the functions ran.
 */
async function settle(
  c: pg.PoolClient,
  way: Way,
  entries: Entry[],
): Promise<{ rows: Omit<Row, 'step_uuid'>[]; calls: Record<string, number> }> {
  await c.query(`SET LOCAL track_functions = 'all'`);
  const counts = async (): Promise<Record<string, number>> => {
    const res = await c.query<{ funcname: string; calls: string }>(
      `SELECT funcname, calls FROM pg_stat_xact_user_functions
       WHERE schemaname = 'tasker' AND funcname IN ('settle_successes', 'settle_last_steps')`,
    );
    return Object.fromEntries(res.rows.map((r) => [r.funcname, Number(r.calls)]));
  };
  const before = await counts();
  const payload = JSON.stringify(entries);
  let rows: Row[];
  if (way === 'complete_steps') {
    rows = (
      await c.query<Row>('SELECT * FROM tasker.complete_steps($1, $2, true, $3, 5, 30)', [
        payload,
        'w',
        [QUEUE],
      ])
    ).rows;
  } else {
    const ids = entries.map((e) => e.step_uuid);
    const tasks = await c.query<{ tasks: string[] }>(
      `SELECT array_agg(DISTINCT task_uuid ORDER BY task_uuid) AS tasks FROM tasker.workflow_steps
       WHERE step_uuid = ANY($1)`,
      [ids],
    );
    const started = await c.query<{ started: string[] }>(
      `SELECT tasker.start_chained_steps($1, $2, 'w', true) AS started`,
      [payload, tasks.rows[0]!.tasks],
    );
    rows = (
      await c.query<Row>('SELECT * FROM tasker.settle_successes($1, $2, $3, $4, $5, 5, 30, $6)', [
        payload,
        ids,
        tasks.rows[0]!.tasks,
        'w',
        [QUEUE],
        started.rows[0]!.started,
      ])
    ).rows;
  }
  const after = await counts();
  const calls = Object.fromEntries(
    Object.entries(after)
      .map(([name, n]) => [name, n - (before[name] ?? 0)] as const)
      .filter(([, n]) => n > 0),
  );
  // rows without uuids: a claimed step by its name
  return {
    rows: rows.map(({ step_uuid: _, claimed, ...rest }) => ({
      ...rest,
      claimed: (claimed as { step_name: string }[] | null)?.map((r) => r.step_name) ?? null,
    })),
    calls,
  };
}

/**
 * Creates the tasks, brings them to where the batch applies (`prepare`), settles the batch one way, and returns
 * the rows, the calls and every task's picture.
 */
type Batch = (tasks: string[], claimed: Map<string, Entry>) => Entry[];
type Prepare = (c: pg.PoolClient, tasks: string[]) => Promise<void>;
type Outcome = { rows: Omit<Row, 'step_uuid'>[]; calls: Record<string, number>; pictures: unknown[] };

async function runWay(
  way: Way,
  templates: TaskTemplate[],
  batch: Batch,
  prepare?: Prepare,
): Promise<Outcome> {
  return inRollback(async (c) => {
    const tasks: string[] = [];
    for (const template of templates) tasks.push((await taskOf(c, template)).task);
    const claimed = await claimAll(c);
    await prepare?.(c, tasks);
    const { rows, calls } = await settle(c, way, batch(tasks, claimed));
    const pictures: unknown[] = [];
    for (const task of tasks) pictures.push(await taskPicture(c, task));
    return { rows, calls, pictures };
  });
}

/** Both ways, compared; returns complete_steps' way. */
async function bothWays(templates: TaskTemplate[], batch: Batch, prepare?: Prepare): Promise<Outcome> {
  const last = await runWay('complete_steps', templates, batch, prepare);
  const general = await runWay('settle_successes', templates, batch, prepare);
  expect(general.calls).toEqual({ settle_successes: 1 });
  expect(last.rows).toEqual(general.rows);
  expect(last.pictures).toEqual(general.pictures);
  return last;
}

/** Prepares the first task by resolving its step `name` by hand (an operator's `resolve_manually`). */
const resolvedByHand =
  (name: string): Prepare =>
  async (c, [task]) => {
    await c.query(
      `SELECT * FROM tasker.apply_step_action($1, $2, 'resolve_manually', NULL, 'test', 'test', 'test')`,
      [task, stepUuidFor(task!, name)],
    );
  };

const claimedOf = (claimed: Map<string, Entry>, task: string, name: string): Entry => {
  const entry = claimed.get(`${task}/${name}`);
  if (!entry) throw new Error(`${name} of ${task} was not claimed`);
  return entry;
};

describe('settle_last_steps', () => {
  it('a claimed root and its chain complete the task in one call, as settle_successes would', async () => {
    const last = await bothWays([chain], ([t], claimed) => [
      claimedOf(claimed, t!, 'a'),
      chained(t!, 'b'),
      chained(t!, 'c'),
    ]);
    expect(last.calls).toEqual({ settle_last_steps: 1 });
    expect(last.rows.map((r) => r.applied)).toEqual([true, true, true]);
    expect(last.rows[0]!.finalized).toEqual([
      { namespace: ns, template: chain.name, state: 'complete', count: 1 },
    ]);
    expect(last.pictures[0]).toMatchObject({
      task: [{ state: 'complete', steps_remaining: 0, steps_in_flight: 0, done: true }],
      events: [{ message: { name: 'step.done', payload: { by: 'a' } } }],
      messages: [{ n: 0 }],
    });
  });

  it('a diamond chained below its root, and two tasks in one batch, each task counted in `finalized`', async () => {
    const last = await bothWays([diamond, chain, chain], ([d, c1, c2], claimed) => [
      claimedOf(claimed, c1!, 'a'),
      claimedOf(claimed, d!, 'top'),
      chained(d!, 'left'),
      chained(c1!, 'b'),
      chained(d!, 'right'),
      chained(d!, 'bottom'),
      chained(c1!, 'c'),
      claimedOf(claimed, c2!, 'a'),
      chained(c2!, 'b'),
      chained(c2!, 'c'),
    ]);
    expect(last.calls).toEqual({ settle_last_steps: 1 });
    expect(last.rows.every((r) => r.applied)).toBe(true);
    expect(last.rows[0]!.finalized).toEqual(
      expect.arrayContaining([
        { namespace: ns, template: diamond.name, state: 'complete', count: 1 },
        { namespace: ns, template: chain.name, state: 'complete', count: 2 },
      ]),
    );
  });

  it('a stale attempt in a batch that would complete the task: nothing changes here, the general path refuses it', async () => {
    const last = await bothWays([chain], ([t], claimed) => [
      { ...claimedOf(claimed, t!, 'a'), attempt: 2 },
      chained(t!, 'b'),
      chained(t!, 'c'),
    ]);
    expect(last.calls).toEqual({ settle_last_steps: 1, settle_successes: 1 });
    expect(last.rows.map((r) => r.applied)).toEqual([false, false, false]);
  });

  it('a batch step whose dependent is outside the batch, resolved by hand: the general path lowers its parent count', async () => {
    const last = await bothWays(
      [chain],
      ([t], claimed) => [claimedOf(claimed, t!, 'a'), chained(t!, 'b')],
      resolvedByHand('c'),
    );
    expect(last.calls).toEqual({ settle_last_steps: 1, settle_successes: 1 });
    expect(last.pictures[0]).toMatchObject({
      steps: [
        { name: 'a', state: 'complete' },
        { name: 'b', state: 'complete' },
        { name: 'c', state: 'resolved_manually', pending_parents: 0 },
      ],
      task: [{ state: 'complete' }],
    });
  });

  it('a chained step with a parent outside the batch that is not complete is not started', async () => {
    const last = await bothWays(
      [join],
      ([t], claimed) => [claimedOf(claimed, t!, 'r'), chained(t!, 'y')],
      resolvedByHand('x'),
    );
    expect(last.calls).toEqual({ settle_last_steps: 1, settle_successes: 1 });
    expect(last.rows.map((r) => r.applied)).toEqual([true, false]);
    // r's completion releases y, which the worker claims for itself
    expect(last.rows[0]!.claimed).toEqual(['y']);
    expect(last.pictures[0]).toMatchObject({
      steps: [{ name: 'r', state: 'complete' }, { name: 'x' }, { name: 'y', state: 'in_progress' }],
    });
  });

  it('called for a batch that leaves a step of its task to run: returns NULL and changes nothing', async () => {
    await inRollback(async (c) => {
      const { task } = await taskOf(c, pair);
      const claimed = await claimAll(c);
      // p has no dependent: only the count of steps left shows that q still has to run
      const entries = [claimedOf(claimed, task, 'p')];
      const before = await taskPicture(c, task);
      const res = await c.query<{ finalized: unknown }>(
        `SELECT tasker.settle_last_steps($1, $2, $3, 'w') AS finalized`,
        [JSON.stringify(entries), entries.map((e) => e.step_uuid), [task]],
      );
      expect(res.rows[0]!.finalized).toBeNull();
      expect(await taskPicture(c, task)).toEqual(before);
    });
  });
});

describe('settle_last_steps, committed', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await db?.drop();
  });

  it('announces each finished task on tasker_task_finished and tasker_task_events', async () => {
    const listener = await db.pool.connect();
    const heard: { channel: string; payload: string }[] = [];
    listener.on('notification', (n) => heard.push({ channel: n.channel, payload: n.payload ?? '' }));
    await listener.query('LISTEN tasker_task_finished; LISTEN tasker_task_events');
    const c = await db.pool.connect();
    try {
      const tasks = [(await taskOf(c, chain)).task, (await taskOf(c, chain)).task].sort();
      const claimed = await claimAll(c);
      // what the claims announced, heard and dropped: a round trip on the listener's connection delivers what
      // was sent before it
      await listener.query('SELECT 1');
      heard.length = 0;
      await c.query('BEGIN');
      const { calls } = await settle(
        c,
        'complete_steps',
        tasks.flatMap((t) => [claimedOf(claimed, t, 'a'), chained(t, 'b'), chained(t, 'c')]),
      );
      await c.query('COMMIT');
      expect(calls).toEqual({ settle_last_steps: 1 });
      await listener.query('SELECT 1');
      const on = (channel: string): string[] =>
        heard
          .filter((h) => h.channel === channel)
          .flatMap((h) => h.payload.split(','))
          .sort();
      expect(on('tasker_task_finished')).toEqual(tasks.map((t) => `${t}:complete`));
      expect(on('tasker_task_events')).toEqual(tasks);
    } finally {
      c.release();
      listener.release();
    }
  });

  it('a result whose attempt a concurrent transaction replaces while the batch waits for its step is refused', async () => {
    const c = await db.pool.connect();
    const other = await db.pool.connect();
    try {
      const { task, step } = await taskOf(c, chain);
      const root = claimedOf(await claimAll(c), task, 'a');
      const pid = (await c.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
      // as claim_steps does when it takes back a lapsed lease: the step row locked, a new attempt, no task lock
      await other.query('BEGIN');
      await other.query('UPDATE tasker.workflow_steps SET attempts = attempts + 1 WHERE step_uuid = $1', [
        step('a'),
      ]);
      const completing = c.query<{ applied: boolean }>(
        'SELECT applied FROM tasker.complete_steps($1, $2, true, $3, 5, 30)',
        [JSON.stringify([root, chained(task, 'b'), chained(task, 'c')]), 'w', [QUEUE]],
      );
      // the completion is waiting for that row lock before the new attempt commits
      for (;;) {
        const waiting = await other.query(
          `SELECT 1 FROM pg_stat_activity WHERE pid = $1 AND wait_event_type = 'Lock'`,
          [pid],
        );
        if (waiting.rowCount) break;
      }
      await other.query('COMMIT');
      expect((await completing).rows.map((r) => r.applied)).toEqual([false, false, false]);
      expect(await taskPicture(c, task)).toMatchObject({
        steps: [
          { name: 'a', state: 'in_progress', attempts: 2 },
          { name: 'b', state: 'pending' },
          { name: 'c', state: 'pending' },
        ],
        task: [{ state: 'steps_in_process', steps_remaining: 3 }],
      });
    } finally {
      c.release();
      other.release();
    }
  });
});
