import { describe, expect, it } from 'vitest';
import type { TransitionBody } from '../src/api-types.js';
import { buildTimeline, operatorLabel, timeScale } from '../src/timeline.js';

const task = '0191f0a2-0000-7000-8000-000000000001';
const stepA = '0191f0a2-0000-7000-8000-00000000000a';
const stepB = '0191f0a2-0000-7000-8000-00000000000b';
const t0 = Date.parse('2024-05-01T10:00:00.000Z');
let n = 0;

function step(
  uuid: string,
  name: string,
  from: string | null,
  to: string,
  atMs: number,
  metadata: Record<string, unknown> | null = null,
): TransitionBody {
  n += 1;
  return {
    key: `step:${uuid}:${n}`,
    entity: 'step',
    task_uuid: task,
    step_uuid: uuid,
    step_name: name,
    from_state: from,
    to_state: to,
    event: 'e',
    sort_key: n,
    metadata,
    processor: null,
    created_at: new Date(t0 + atMs).toISOString(),
  };
}

describe('timeline', () => {
  it('draws one bar per attempt with the waits between them, and how each attempt ended', () => {
    const transitions = [
      step(stepA, 'charge', 'pending', 'enqueued', 0),
      step(stepA, 'charge', 'enqueued', 'in_progress', 100),
      step(stepA, 'charge', 'in_progress', 'enqueued_as_error_for_orchestration', 400),
      step(stepA, 'charge', 'enqueued_as_error_for_orchestration', 'waiting_for_retry', 450),
      step(stepA, 'charge', 'waiting_for_retry', 'enqueued', 1450),
      step(stepA, 'charge', 'enqueued', 'in_progress', 1500),
      step(stepA, 'charge', 'in_progress', 'enqueued_for_orchestration', 1800),
      step(stepA, 'charge', 'enqueued_for_orchestration', 'complete', 1850),
    ];
    const timeline = buildTimeline([...transitions].reverse(), t0 + 5000, true);
    expect(timeline.start).toBe(t0);
    expect(timeline.end).toBe(t0 + 1850);
    const [row] = timeline.rows;
    expect(row?.stepName).toBe('charge');
    expect(row?.bars.map((b) => [b.kind, b.start - t0, b.end - t0, b.attempt, b.outcome])).toEqual([
      ['queued', 0, 100, undefined, undefined],
      ['attempt', 100, 400, 1, 'retry'],
      ['retry_wait', 450, 1450, undefined, undefined],
      ['queued', 1450, 1500, undefined, undefined],
      ['attempt', 1500, 1800, 2, 'complete'],
    ]);
  });

  it('marks a final failure, a running attempt growing to now, and operator actions', () => {
    const transitions = [
      step(stepA, 'a', 'enqueued', 'in_progress', 0),
      step(stepA, 'a', 'in_progress', 'enqueued_as_error_for_orchestration', 200),
      step(stepA, 'a', 'enqueued_as_error_for_orchestration', 'error', 250),
      step(stepA, 'a', 'error', 'pending', 900, {
        action_type: 'reset_for_retry',
        by: 'alice',
        reason: 'fixed',
      }),
      step(stepB, 'b', 'enqueued', 'in_progress', 300),
    ];
    const timeline = buildTimeline(transitions, t0 + 2000);
    const [a, b] = timeline.rows;
    expect(a?.bars.map((x) => x.outcome)).toEqual(['error']);
    expect(a?.markers).toEqual([{ at: t0 + 900, label: 'reset for retry by alice' }]);
    expect(b?.bars).toEqual([
      { kind: 'attempt', start: t0 + 300, end: t0 + 2000, open: true, attempt: 1, outcome: 'running' },
    ]);
    expect(timeline.end).toBe(t0 + 2000);
  });

  it('labels operator actions, and cancellations that name who did them', () => {
    expect(operatorLabel(step(stepA, 'a', 'error', 'pending', 0, { action: 'rerun_from', by: 'bob' }))).toBe(
      'rerun from by bob',
    );
    expect(operatorLabel(step(stepA, 'a', 'pending', 'cancelled', 0, { by: 'carol', reason: 'x' }))).toBe(
      'cancelled by carol',
    );
    expect(operatorLabel(step(stepA, 'a', 'pending', 'enqueued', 0))).toBeUndefined();
  });

  it('is empty without transitions and scales time to width', () => {
    expect(buildTimeline([], 5)).toEqual({ start: 5, end: 5, rows: [] });
    const x = timeScale({ start: 1000, end: 3000 }, 200);
    expect([x(1000), x(2000), x(3000)]).toEqual([0, 100, 200]);
  });
});
