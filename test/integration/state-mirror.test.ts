import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  allowedStepStatePairs,
  allowedTaskStatePairs,
  canTransitionStep,
  canTransitionTask,
  STEP_STATES,
  STEP_TRANSITIONS,
  StepEvent,
  TASK_STATES,
  TASK_TRANSITIONS,
  TaskEvent,
  TERMINAL_STEP_STATES,
  TERMINAL_TASK_STATES,
} from '../../src/state/index.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';

const pairKey = (p: { from: string; to: string }) => `${p.from} -> ${p.to}`;

describe('the SQL state tables and CHECK predicates mirror src/state', () => {
  let db: TestDatabase;

  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await db?.drop();
  });

  async function pairs(table: 'task_state_transitions' | 'step_state_transitions'): Promise<string[]> {
    const res = await db.pool.query<{ from_state: string; to_state: string }>(
      `SELECT from_state, to_state FROM tasker.${table}`,
    );
    return res.rows.map((r) => pairKey({ from: r.from_state, to: r.to_state })).sort();
  }

  async function states(table: 'task_states' | 'step_states'): Promise<Record<string, boolean>> {
    const res = await db.pool.query<{ state: string; terminal: boolean }>(
      `SELECT state, terminal FROM tasker.${table} ORDER BY state`,
    );
    return Object.fromEntries(res.rows.map((r) => [r.state, r.terminal]));
  }

  it('task transition pairs are exactly allowedTaskStatePairs()', async () => {
    const code = allowedTaskStatePairs().map(pairKey).sort();
    expect(new Set(code).size).toBe(code.length);
    const sql = await pairs('task_state_transitions');
    expect(sql).toEqual(code);
  });

  it('step transition pairs are exactly allowedStepStatePairs()', async () => {
    const code = allowedStepStatePairs().map(pairKey).sort();
    expect(new Set(code).size).toBe(code.length);
    const sql = await pairs('step_state_transitions');
    expect(sql).toEqual(code);
  });

  it('task states and terminal flags match TASK_STATES / TERMINAL_TASK_STATES', async () => {
    const expected = Object.fromEntries(TASK_STATES.map((s) => [s, TERMINAL_TASK_STATES.has(s)]));
    expect(await states('task_states')).toEqual(expected);
    expect(Object.keys(expected)).toHaveLength(12);
  });

  it('step states and terminal flags match STEP_STATES / TERMINAL_STEP_STATES', async () => {
    const expected = Object.fromEntries(STEP_STATES.map((s) => [s, TERMINAL_STEP_STATES.has(s)]));
    expect(await states('step_states')).toEqual(expected);
    expect(Object.keys(expected)).toHaveLength(11);
    // error is deliberately not terminal in both places.
    expect(expected.error).toBe(false);
  });

  /** Every (from, to) over `states` with the database's verdict. */
  async function verdicts(fn: string, states: readonly string[]): Promise<Map<string, boolean | null>> {
    const res = await db.pool.query<{ f: string; t: string; ok: boolean | null }>(
      `SELECT f, t, tasker.${fn}(f, t) AS ok FROM unnest($1::text[]) AS f CROSS JOIN unnest($1::text[]) AS t`,
      [states],
    );
    expect(res.rows).toHaveLength(states.length ** 2);
    return new Map(res.rows.map((r) => [pairKey({ from: r.f, to: r.t }), r.ok]));
  }

  it('the task transition CHECK predicate allows exactly the pairs src/state allows', async () => {
    const sql = await verdicts('is_allowed_task_transition', TASK_STATES);
    for (const from of TASK_STATES) {
      for (const to of TASK_STATES) {
        expect(sql.get(pairKey({ from, to })), pairKey({ from, to })).toBe(canTransitionTask(from, to));
      }
    }
    const created = await db.pool.query<{ ok: boolean }>(
      `SELECT tasker.is_allowed_task_transition(NULL, 'pending') AS ok`,
    );
    expect(created.rows[0]!.ok).toBe(true);
  });

  it('the step transition CHECK predicate allows exactly the pairs src/state allows', async () => {
    const sql = await verdicts('is_allowed_step_transition', STEP_STATES);
    for (const from of STEP_STATES) {
      for (const to of STEP_STATES) {
        expect(sql.get(pairKey({ from, to })), pairKey({ from, to })).toBe(canTransitionStep(from, to));
      }
    }
    const created = await db.pool.query<{ ok: boolean }>(
      `SELECT tasker.is_allowed_step_transition(NULL, 'pending') AS ok`,
    );
    expect(created.rows[0]!.ok).toBe(true);
  });

  it('the state CHECK predicates accept exactly the known states', async () => {
    const probe = async (fn: string, values: readonly string[]) => {
      const res = await db.pool.query<{ v: string; ok: boolean }>(
        `SELECT v, tasker.${fn}(v) AS ok FROM unnest($1::text[]) AS v`,
        [values],
      );
      return Object.fromEntries(res.rows.map((r) => [r.v, r.ok]));
    };
    const bogus = ['', 'Pending', 'teleported', 'complete '];
    expect(await probe('is_task_state', [...TASK_STATES, ...bogus])).toEqual(
      Object.fromEntries([...TASK_STATES.map((s) => [s, true]), ...bogus.map((s) => [s, false])]),
    );
    expect(await probe('is_step_state', [...STEP_STATES, ...bogus])).toEqual(
      Object.fromEntries([...STEP_STATES.map((s) => [s, true]), ...bogus.map((s) => [s, false])]),
    );
  });

  it('no transition leaves a terminal state in the database but an operator re-run', async () => {
    const res = await db.pool.query<{ kind: string; from_state: string; to_state: string }>(`
      SELECT 'task' AS kind, t.from_state, t.to_state FROM tasker.task_state_transitions t
        JOIN tasker.task_states s ON s.state = t.from_state WHERE s.terminal
      UNION ALL
      SELECT 'step', t.from_state, t.to_state FROM tasker.step_state_transitions t
        JOIN tasker.step_states s ON s.state = t.from_state WHERE s.terminal
      ORDER BY 1, 2`);
    // Exactly the Rerun rows of src/state: a finished task back to evaluation, a finished step back to pending.
    const rerun = [
      ...TASK_TRANSITIONS.filter((r) => r.event === TaskEvent.Rerun).map((r) => ({ kind: 'task', ...r })),
      ...STEP_TRANSITIONS.filter((r) => r.event === StepEvent.Rerun && TERMINAL_STEP_STATES.has(r.from)).map(
        (r) => ({ kind: 'step', ...r }),
      ),
    ];
    expect(res.rows).toEqual(
      rerun
        .map((r) => ({ kind: r.kind, from_state: r.from, to_state: r.to }))
        .sort((a, b) => (a.kind + a.from_state).localeCompare(b.kind + b.from_state)),
    );
    expect(res.rows.length).toBe(6);
    // Cancelled tasks are never re-run.
    expect(res.rows.some((r) => r.kind === 'task' && r.from_state === 'cancelled')).toBe(false);
  });
});
