import { describe, expect, it } from 'vitest';
import type { DlqEntryBody, StepAttempt, StepDetailBody, TemplateSummaryBody } from '../src/api-types.js';
import { niceMax } from '../src/chart-scale.js';
import { dlqSummary } from '../src/dlq-snapshot.js';
import { formatAgo, formatDuration, plural, shortId } from '../src/format.js';
import { descendantsOf } from '../src/graph.js';
import { toneOf } from '../src/states.js';
import { actionsFor } from '../src/step-action-rules.js';
import { extrasOf } from '../src/step-detail.js';
import { compareVersions, groupTemplates } from '../src/template-groups.js';

describe('state colours', () => {
  it('maps every state to its tone, the same for tasks and steps', () => {
    expect(
      [
        'pending',
        'enqueued',
        'in_progress',
        'complete',
        'error',
        'skipped',
        'cancelled',
        'waiting_for_retry',
      ].map(toneOf),
    ).toEqual(['pending', 'queued', 'running', 'done', 'failed', 'muted', 'muted', 'retry']);
    expect(toneOf('steps_in_process')).toBe('running');
    expect(toneOf('blocked_by_failures')).toBe('failed');
    expect(toneOf('some_future_state')).toBe('pending');
  });
});

describe('re-run reach', () => {
  it('finds every step below a step, through any path', () => {
    const steps = [
      { name: 'a', depends_on: [] },
      { name: 'b', depends_on: ['a'] },
      { name: 'c', depends_on: ['a'] },
      { name: 'd', depends_on: ['b', 'c'] },
      { name: 'e', depends_on: [] },
    ];
    expect([...descendantsOf(steps, 'b')]).toEqual(['d']);
    expect([...descendantsOf(steps, 'a')].sort()).toEqual(['b', 'c', 'd']);
    expect(descendantsOf(steps, 'e').size).toBe(0);
  });
});

describe('step actions by state', () => {
  it('offers retry only for failed steps and re-run for finished ones', () => {
    expect(actionsFor('error')).toContain('reset_for_retry');
    expect(actionsFor('complete')).toEqual(['rerun_from']);
    expect(actionsFor('in_progress')).toEqual([]);
    expect(actionsFor('waiting_for_retry')).not.toContain('reset_for_retry');
  });
});

describe('step detail extras', () => {
  const base = { step_uuid: 's', name: 'x', attempts: 2 } as unknown as StepDetailBody;
  const attempt = (run: number, n: number, outcome: StepAttempt['outcome']): StepAttempt => ({
    attempt: n,
    run,
    started_at: '2024-05-01T10:00:00.000Z',
    finished_at: null,
    outcome,
    worker: null,
  });

  it('orders attempts by run, then attempt, and leaves out empty inputs', () => {
    const extras = extrasOf({
      ...base,
      attempt_history: [attempt(2, 1, 'succeeded'), attempt(1, 2, 'failed'), attempt(1, 1, 'failed')],
      inputs: {},
      dependency_results: { fetch: { ok: 1 } },
      checkpoint: null,
    });
    expect(extras.attempts.map((a) => `${a.run}.${a.attempt}`)).toEqual(['1.1', '1.2', '2.1']);
    expect(extras.inputs).toBeUndefined();
    expect(extras.dependencyResults).toEqual({ fetch: { ok: 1 } });
    expect(extras.checkpoint).toBeUndefined();
    expect(
      extrasOf({
        ...base,
        attempt_history: [],
        inputs: { a: 1 },
        dependency_results: {},
        checkpoint: { cursor: 3 },
      }),
    ).toEqual({ attempts: [], inputs: { a: 1 }, dependencyResults: undefined, checkpoint: { cursor: 3 } });
  });
});

describe('dead-letter snapshot', () => {
  it('reads the template and failing step, tolerating missing parts', () => {
    const entry = {
      task_snapshot: {
        namespace: 'shop',
        task_name: 'fulfil',
        version: '1.0.0',
        error: {
          step_uuid: 's1',
          step_name: 'charge',
          error: { message: 'card declined', code: 'DECLINED' },
        },
      },
    } as unknown as DlqEntryBody;
    expect(dlqSummary(entry)).toEqual({
      template: 'shop/fulfil',
      version: '1.0.0',
      stepName: 'charge',
      stepUuid: 's1',
      message: 'card declined',
      code: 'DECLINED',
    });
    expect(
      dlqSummary({ task_snapshot: { error: 'weird' } } as unknown as DlqEntryBody).message,
    ).toBeUndefined();
  });
});

describe('templates', () => {
  it('groups versions newest first, numerically', () => {
    const t = (name: string, version: string) => ({ namespace: 'ns', name, version }) as TemplateSummaryBody;
    const groups = groupTemplates([t('b', '1.9.0'), t('a', '1.0.0'), t('b', '1.10.0'), t('b', '1.2.0')]);
    expect(groups.map((g) => g.map((x) => `${x.name}@${x.version}`))).toEqual([
      ['a@1.0.0'],
      ['b@1.10.0', 'b@1.9.0', 'b@1.2.0'],
    ]);
    expect(compareVersions('2.0.0-beta', '2.0.0')).toBeGreaterThan(0);
  });
});

describe('formatting', () => {
  it('formats durations, ages, counts and axes', () => {
    expect([850, 4200, 192_000, 7_500_000, 100_000_000].map(formatDuration)).toEqual([
      '850 ms',
      '4.2 s',
      '3 m 12 s',
      '2 h 5 m',
      '1 d 3 h',
    ]);
    expect(formatDuration(-1)).toBe('–');
    expect(formatAgo('2024-05-01T10:00:00Z', Date.parse('2024-05-01T10:05:00Z'))).toBe('5 m ago');
    expect(plural(1, 'task')).toBe('1 task');
    expect(plural(37_000, 'task')).toBe('37,000 tasks');
    expect(shortId('0191f0a2-1111-7222-8333-44445555c6c8')).toBe('0191f0a2…c6c8');
    expect([0, 1, 3, 7, 12, 180].map(niceMax)).toEqual([1, 1, 5, 10, 20, 200]);
  });
});
