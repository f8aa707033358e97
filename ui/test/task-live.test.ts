import { describe, expect, it } from 'vitest';
import type { StepBody, TaskBody, TransitionBody } from '../src/api-types.js';
import { applyTransitions, mergeTransitions } from '../src/task-live.js';
import { mergeFirstPage } from '../src/task-pages.js';
import type { TaskSummaryBody } from '../src/api-types.js';

const T = '0191f0a2-0000-7000-8000-000000000001';

function stepOf(uuid: string, state: StepBody['state']): StepBody {
  return {
    step_uuid: uuid,
    task_uuid: T,
    name: uuid,
    handler: 'h',
    state,
    type: 'standard',
    attempts: 0,
    max_attempts: 3,
    depends_on: [],
    readiness: 'ready',
    result: null,
    error: null,
    next_retry_at: null,
    processed_at: null,
  };
}

function transition(
  key: string,
  entity: 'task' | 'step',
  stepUuid: string | null,
  to: string,
): TransitionBody {
  return {
    key,
    entity,
    task_uuid: T,
    step_uuid: stepUuid,
    step_name: stepUuid,
    from_state: null,
    to_state: to,
    event: 'e',
    sort_key: 1,
    metadata: null,
    processor: null,
    created_at: '2024-05-01T10:00:00.000Z',
  };
}

const task = {
  state: 'steps_in_process',
  steps: [stepOf('a', 'complete'), stepOf('b', 'in_progress')],
} as TaskBody;

describe('live task', () => {
  it('recolours steps and the task from transitions, the latest winning', () => {
    const next = applyTransitions(task, [
      transition('1', 'step', 'b', 'enqueued_for_orchestration'),
      transition('2', 'step', 'b', 'complete'),
      transition('3', 'task', null, 'complete'),
    ]);
    expect(next.state).toBe('complete');
    expect(next.steps.map((s) => s.state)).toEqual(['complete', 'complete']);
    expect(next.steps[0]).toBe(task.steps[0]);
    expect(applyTransitions(task, [])).toBe(task);
  });

  it('drops repeated transitions (at-least-once delivery)', () => {
    const seen = new Set<string>();
    const first = mergeTransitions([], seen, [
      transition('1', 'step', 'a', 'x'),
      transition('2', 'step', 'a', 'y'),
    ]);
    const again = mergeTransitions(first, seen, [
      transition('2', 'step', 'a', 'y'),
      transition('3', 'step', 'a', 'z'),
    ]);
    expect(again.map((t) => t.key)).toEqual(['1', '2', '3']);
  });
});

describe('task list refresh', () => {
  const row = (id: string, state: TaskSummaryBody['state']) => ({ task_uuid: id, state }) as TaskSummaryBody;
  it('replaces a single loaded page, so tasks that left the filter disappear', () => {
    expect(
      mergeFirstPage(
        [row('a', 'pending'), row('b', 'pending')],
        [row('c', 'pending'), row('a', 'complete')],
        1,
      ),
    ).toEqual([row('c', 'pending'), row('a', 'complete')]);
  });

  it('updates in place and prepends new tasks when more pages are loaded', () => {
    expect(
      mergeFirstPage(
        [row('a', 'pending'), row('b', 'pending')],
        [row('c', 'pending'), row('a', 'complete')],
        3,
      ),
    ).toEqual([row('c', 'pending'), row('a', 'complete'), row('b', 'pending')]);
  });
});
