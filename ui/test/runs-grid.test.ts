import { describe, expect, it } from 'vitest';
import { buildRunsGrid } from '../src/runs-grid.js';

describe('runs grid', () => {
  it('puts runs oldest first, steps in the given order, and links each cell to its step', () => {
    const grid = buildRunsGrid({
      version: '1.0.0',
      steps: ['fetch', 'charge', 'ship'],
      runs: [
        {
          task_uuid: 'new',
          state: 'steps_in_process',
          created_at: '2024-05-01T10:05:00.000Z',
          completed_at: null,
          steps: {
            fetch: { step_uuid: 'n1', state: 'complete', attempts: 1 },
            charge: { step_uuid: 'n2', state: 'in_progress', attempts: 2 },
          },
        },
        {
          task_uuid: 'old',
          state: 'complete',
          created_at: '2024-05-01T10:00:00.000Z',
          completed_at: '2024-05-01T10:00:04.000Z',
          steps: {
            fetch: { step_uuid: 'o1', state: 'complete', attempts: 1 },
            charge: { step_uuid: 'o2', state: 'complete', attempts: 1 },
            ship: { step_uuid: 'o3', state: 'complete', attempts: 1 },
            legacy: { step_uuid: 'o4', state: 'skipped', attempts: 0 },
          },
        },
      ],
    });
    expect(grid.columns.map((c) => [c.taskUuid, c.tone, c.durationMs])).toEqual([
      ['old', 'done', 4000],
      ['new', 'running', null],
    ]);
    expect(grid.maxDurationMs).toBe(4000);
    expect(grid.rows.map((r) => r.step)).toEqual(['fetch', 'charge', 'ship', 'legacy']);
    const charge = grid.rows[1]?.cells;
    expect(charge?.[1]).toEqual({
      state: 'in_progress',
      tone: 'running',
      attempts: 2,
      href: '#/tasks/new?step=n2',
      title: 'charge: in progress (2 attempts)',
    });
    expect(grid.rows[2]?.cells[1]).toBeNull();
  });

  it('handles a template without runs', () => {
    expect(buildRunsGrid({ version: '1.0.0', steps: ['a'], runs: [] })).toEqual({
      columns: [],
      rows: [{ step: 'a', cells: [] }],
      maxDurationMs: 1,
    });
  });
});
