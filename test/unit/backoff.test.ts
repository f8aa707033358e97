import { describe, expect, it } from 'vitest';
import { computeRetryDelayMs } from '../../src/worker/backoff.js';

const policy = { backoffBaseMs: 100, backoffMultiplier: 2, maxBackoffMs: 1000, jitter: 0 };

describe('computeRetryDelayMs', () => {
  it('grows exponentially from the base, by attempt', () => {
    expect([1, 2, 3, 4].map((a) => computeRetryDelayMs(policy, a))).toEqual([100, 200, 400, 800]);
  });

  it('is capped at maxBackoffMs', () => {
    expect(computeRetryDelayMs(policy, 5)).toBe(1000);
    expect(computeRetryDelayMs(policy, 50)).toBe(1000);
  });

  it('a constant multiplier of 1 gives a constant delay', () => {
    expect(computeRetryDelayMs({ ...policy, backoffMultiplier: 1 }, 7)).toBe(100);
  });

  it('jitter spreads the delay by at most the given fraction, in both directions', () => {
    const jittered = { ...policy, jitter: 0.5 };
    expect(computeRetryDelayMs(jittered, 2, undefined, () => 0)).toBe(100); // 200 - 50%
    expect(computeRetryDelayMs(jittered, 2, undefined, () => 0.5)).toBe(200); // no spread
    expect(computeRetryDelayMs(jittered, 2, undefined, () => 0.999999)).toBe(300); // 200 + 50%
  });

  it('jitter never pushes the delay past the cap or below zero', () => {
    const jittered = { ...policy, jitter: 1 };
    expect(computeRetryDelayMs(jittered, 10, undefined, () => 0.999999)).toBe(1000);
    expect(computeRetryDelayMs(jittered, 1, undefined, () => 0)).toBe(0);
  });

  it('a handler-requested delay wins over the exponential one, without jitter, capped', () => {
    const jittered = { ...policy, jitter: 0.5 };
    expect(computeRetryDelayMs(jittered, 1, 350, () => 0)).toBe(350);
    expect(computeRetryDelayMs(jittered, 1, 60_000)).toBe(1000);
    expect(computeRetryDelayMs(jittered, 1, -5)).toBe(0);
  });

  it('ignores a requested delay that is not a finite number', () => {
    expect(computeRetryDelayMs(policy, 3, Number.NaN)).toBe(400);
  });
});
