import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  allowedStepStatePairs,
  allowedTaskStatePairs,
  STEP_STATES,
  TASK_STATES,
  TERMINAL_STEP_STATES,
  TERMINAL_TASK_STATES,
} from '../../src/state/index.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';

const pairKey = (p: { from: string; to: string }) => `${p.from} -> ${p.to}`;

describe('the SQL state tables mirror src/state', () => {
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
    expect(Object.keys(expected)).toHaveLength(10);
    // error is deliberately not terminal in both places.
    expect(expected.error).toBe(false);
  });

  it('no transition leaves a terminal state in the database', async () => {
    const res = await db.pool.query(`
      SELECT 'task' AS kind, t.from_state FROM tasker.task_state_transitions t
        JOIN tasker.task_states s ON s.state = t.from_state WHERE s.terminal
      UNION ALL
      SELECT 'step', t.from_state FROM tasker.step_state_transitions t
        JOIN tasker.step_states s ON s.state = t.from_state WHERE s.terminal`);
    expect(res.rows).toEqual([]);
  });
});
