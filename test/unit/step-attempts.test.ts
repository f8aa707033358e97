/** Deriving a step's attempts from its audit trail and stored results (pure). */
import { describe, expect, it } from 'vitest';
import type { TransitionView } from '../../src/orchestration/operations.js';
import { deriveAttempts } from '../../src/orchestration/step-attempts.js';

/** A trail of `[event, from, to, processor?, metadata?]`, one second apart. */
function trail(rows: [string, string | null, string, string?, Record<string, unknown>?][]): TransitionView[] {
  return rows.map(([event, from, to, processor, metadata], i) => ({
    key: `step:s:${i + 1}`,
    entity: 'step',
    taskUuid: 't',
    stepUuid: 's',
    stepName: 'x',
    fromState: from,
    toState: to,
    event,
    sortKey: i + 1,
    metadata: metadata ?? null,
    processor: processor ?? 'orchestrator',
    createdAt: new Date(Date.UTC(2026, 0, 1, 0, 0, i)),
  }));
}

const at = (i: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, i));

describe('deriveAttempts', () => {
  it('numbers attempts, ends each at the transition after its Start, and puts the stored outcome on its attempt', () => {
    const t = trail([
      ['Create', null, 'pending'],
      ['Enqueue', 'pending', 'enqueued'],
      ['Start', 'enqueued', 'in_progress', 'w1'],
      ['EnqueueAsErrorForOrchestration', 'in_progress', 'enqueued_as_error_for_orchestration', 'w1'],
      ['WaitForRetry', 'enqueued_as_error_for_orchestration', 'waiting_for_retry'],
      ['Retry', 'waiting_for_retry', 'pending'],
      ['Enqueue', 'pending', 'enqueued'],
      ['Start', 'enqueued', 'in_progress', 'w2'],
      ['LeaseExpired', 'in_progress', 'enqueued', 'w3'],
      ['Start', 'enqueued', 'in_progress', 'w3'],
      ['Release', 'in_progress', 'enqueued', 'w3'],
      ['Start', 'enqueued', 'in_progress', 'w4'],
      ['EnqueueForOrchestration', 'in_progress', 'enqueued_for_orchestration', 'w4'],
      ['Complete', 'enqueued_for_orchestration', 'complete'],
    ]);
    const attempts = deriveAttempts(t, { success: true, result: { n: 1 }, metadata: { attempt: 3 } });
    expect(attempts).toEqual([
      { attempt: 1, run: 1, startedAt: at(2), finishedAt: at(3), outcome: 'failed', worker: 'w1' },
      { attempt: 2, run: 1, startedAt: at(7), finishedAt: at(8), outcome: 'lease_expired', worker: 'w2' },
      { attempt: 3, run: 1, startedAt: at(9), finishedAt: at(10), outcome: 'released', worker: 'w3' },
      // The released attempt did not count: the next one has its number again.
      {
        attempt: 3,
        run: 1,
        startedAt: at(11),
        finishedAt: at(12),
        outcome: 'succeeded',
        worker: 'w4',
        result: { n: 1 },
      },
    ]);
  });

  it('an invalid decision outcome fails the attempt; a reset starts a new run; a re-run keeps the last result', () => {
    const t = trail([
      ['Create', null, 'pending'],
      ['Enqueue', 'pending', 'enqueued'],
      ['Start', 'enqueued', 'in_progress', 'w1'],
      ['EnqueueForOrchestration', 'in_progress', 'enqueued_for_orchestration', 'w1'],
      ['Fail', 'enqueued_for_orchestration', 'error'],
      ['ResetForRetry', 'error', 'pending'],
      ['Enqueue', 'pending', 'enqueued'],
      ['Start', 'enqueued', 'in_progress', 'w1'],
      ['EnqueueForOrchestration', 'in_progress', 'enqueued_for_orchestration', 'w1'],
      ['Complete', 'enqueued_for_orchestration', 'complete'],
      [
        'Rerun',
        'complete',
        'pending',
        'api',
        { previous_results: { success: true, result: 'old', metadata: { attempt: 1 } } },
      ],
      ['Enqueue', 'pending', 'enqueued'],
      ['Start', 'enqueued', 'in_progress', 'w2'],
    ]);
    const attempts = deriveAttempts(t, null);
    expect(attempts.map((a) => [a.run, a.attempt, a.outcome, a.result])).toEqual([
      [1, 1, 'failed', undefined],
      [2, 1, 'succeeded', 'old'],
      [3, 1, 'running', undefined],
    ]);
    expect(attempts[2]!.finishedAt).toBeNull();
  });

  it('cancellation and operator completion end a running attempt; a result not of the attempt is not attached', () => {
    const cancelled = deriveAttempts(
      trail([
        ['Start', 'enqueued', 'in_progress', 'w1'],
        ['Cancel', 'in_progress', 'cancelled', 'api'],
      ]),
      null,
    );
    expect(cancelled.map((a) => a.outcome)).toEqual(['cancelled']);
    const superseded = deriveAttempts(
      trail([
        ['Start', 'enqueued', 'in_progress', 'w1'],
        ['CompleteManually', 'in_progress', 'complete', 'api'],
      ]),
      { success: true, result: 'by hand', metadata: { manually_completed: true } },
    );
    expect(superseded).toMatchObject([{ outcome: 'superseded' }]);
    // The operator's result is the step's, not the attempt's.
    expect(superseded[0]).not.toHaveProperty('result');
    const stale = deriveAttempts(
      trail([
        ['Start', 'enqueued', 'in_progress', 'w1'],
        ['EnqueueAsErrorForOrchestration', 'in_progress', 'enqueued_as_error_for_orchestration', 'w1'],
      ]),
      { success: false, error: { message: 'x' }, metadata: { attempt: 7 } },
    );
    expect(stale[0]!.error).toBeUndefined();
  });
});
