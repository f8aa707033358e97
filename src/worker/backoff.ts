import type { RetryPolicy } from '../templates/types.js';

/**
 * The delay before the next attempt of a failed step, in ms.
 *
 * - A handler-requested delay (`RetryableError({ retryAfterMs })`) is used as given, capped at `maxBackoffMs`.
 * - Otherwise: `backoffBaseMs * backoffMultiplier^(attempt - 1)`, capped at `maxBackoffMs`, then spread by
 *   +/- `jitter` (a fraction) so that many failing steps do not retry in lockstep; the result stays within
 *   `[0, maxBackoffMs]`.
 *
 * @param attempt the attempt that just failed (1 = first execution)
 * @param random a source of uniform numbers in [0, 1) (injectable for tests)
 */
export function computeRetryDelayMs(
  policy: Pick<RetryPolicy, 'backoffBaseMs' | 'backoffMultiplier' | 'maxBackoffMs' | 'jitter'>,
  attempt: number,
  retryAfterMs?: number,
  random: () => number = Math.random,
): number {
  const cap = Math.max(0, policy.maxBackoffMs);
  if (retryAfterMs !== undefined && Number.isFinite(retryAfterMs)) {
    return Math.min(Math.max(0, Math.round(retryAfterMs)), cap);
  }
  const exponent = Math.max(0, attempt - 1);
  const raw = policy.backoffBaseMs * Math.pow(Math.max(1, policy.backoffMultiplier), exponent);
  const capped = Math.min(raw, cap);
  const spread = capped * Math.min(1, Math.max(0, policy.jitter)) * (random() * 2 - 1);
  return Math.round(Math.min(cap, Math.max(0, capped + spread)));
}
