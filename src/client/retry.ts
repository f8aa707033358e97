/** Retry timing of the HTTP client: exponential backoff with jitter, and `Retry-After` parsing. */

/** How failed requests are retried. */
export interface RetryOptions {
  /** Attempts in total, the first included (1 = never retry). Default 4. */
  maxAttempts?: number;
  /** Delay before the first retry, in ms; doubles with each further retry. Default 200. */
  baseDelayMs?: number;
  /** Largest computed backoff delay, in ms. Default 5000. */
  maxDelayMs?: number;
  /**
   * Longest `Retry-After` the client will wait for, in ms. A server asking for more is not retried early:
   * the error is returned instead. Default 60000.
   */
  maxRetryAfterMs?: number;
}

/** {@link RetryOptions} with every default applied. */
export type ResolvedRetryOptions = Required<RetryOptions>;

/** Fills in the defaults and checks the values. */
export function resolveRetryOptions(options: RetryOptions = {}): ResolvedRetryOptions {
  const resolved = {
    maxAttempts: options.maxAttempts ?? 4,
    baseDelayMs: options.baseDelayMs ?? 200,
    maxDelayMs: options.maxDelayMs ?? 5000,
    maxRetryAfterMs: options.maxRetryAfterMs ?? 60_000,
  };
  for (const [key, value] of Object.entries(resolved)) {
    if (!Number.isFinite(value) || value < 0) throw new RangeError(`retry.${key} must be a number >= 0`);
  }
  if (resolved.maxAttempts < 1) throw new RangeError('retry.maxAttempts must be at least 1');
  return resolved;
}

/**
 * Delay before retry number `retry` (1 = the first retry): `baseDelayMs · 2^(retry-1)`, capped at
 * `maxDelayMs`, of which a random half is kept ("equal jitter"), so clients that failed together do not come
 * back together yet never retry at once.
 */
export function backoffDelayMs(
  retry: number,
  options: ResolvedRetryOptions,
  random: () => number = Math.random,
): number {
  const exp = Math.min(options.maxDelayMs, options.baseDelayMs * 2 ** Math.max(0, retry - 1));
  return Math.round(exp / 2 + random() * (exp / 2));
}

/**
 * Parses a `Retry-After` header value, either delay seconds or an HTTP date, into ms from `now`. Returns
 * undefined when absent or unparseable; a date in the past gives 0.
 */
export function parseRetryAfter(
  value: string | null | undefined,
  now: number = Date.now(),
): number | undefined {
  if (value === null || value === undefined) return undefined;
  const text = value.trim();
  if (text === '') return undefined;
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  // HTTP dates always name a weekday or month; this keeps Date.parse from reading "-1" as a year.
  if (!/[a-z]/i.test(text)) return undefined;
  const at = Date.parse(text);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - now);
}

/** Resolves after `ms`, or rejects with the signal's reason as soon as it aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason as Error);
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal?.reason as Error);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
