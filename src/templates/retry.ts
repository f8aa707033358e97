/** Retry defaults and limits shared by the YAML parser, the DSL and validation. */
import type { RetryPolicy } from './types.js';

/**
 * Values used for retry fields a template leaves out. Usually comes from configuration; every field is
 * optional where it is accepted, and missing ones fall back to {@link FALLBACK_RETRY_DEFAULTS}.
 */
export interface RetryDefaults {
  maxAttempts: number;
  backoffBaseMs: number;
  backoffMultiplier: number;
  maxBackoffMs: number;
  jitter: number;
}

/** Built-in retry defaults: 3 attempts, 1 s base delay doubling per attempt, capped at 60 s, ±15 % jitter. */
export const FALLBACK_RETRY_DEFAULTS: Readonly<RetryDefaults> = Object.freeze({
  maxAttempts: 3,
  backoffBaseMs: 1000,
  backoffMultiplier: 2,
  maxBackoffMs: 60_000,
  jitter: 0.15,
});

/** Inclusive bounds enforced by validation. */
export const RETRY_LIMITS = Object.freeze({
  minAttempts: 1,
  maxAttempts: 100,
  /** Largest delay Node's timers can represent; anything larger would fire at once. */
  maxDelayMs: 2_147_483_647,
});

/** Fills the missing fields of `defaults` from {@link FALLBACK_RETRY_DEFAULTS}. */
export function resolveRetryDefaults(defaults?: Partial<RetryDefaults>): RetryDefaults {
  return {
    maxAttempts: defaults?.maxAttempts ?? FALLBACK_RETRY_DEFAULTS.maxAttempts,
    backoffBaseMs: defaults?.backoffBaseMs ?? FALLBACK_RETRY_DEFAULTS.backoffBaseMs,
    backoffMultiplier: defaults?.backoffMultiplier ?? FALLBACK_RETRY_DEFAULTS.backoffMultiplier,
    maxBackoffMs: defaults?.maxBackoffMs ?? FALLBACK_RETRY_DEFAULTS.maxBackoffMs,
    jitter: defaults?.jitter ?? FALLBACK_RETRY_DEFAULTS.jitter,
  };
}

/** A complete retry policy: fields of `partial` win, the rest come from `defaults`; retryable defaults to true. */
export function resolveRetryPolicy(
  partial: Partial<RetryPolicy> | undefined,
  defaults: RetryDefaults,
): RetryPolicy {
  return {
    retryable: partial?.retryable ?? true,
    maxAttempts: partial?.maxAttempts ?? defaults.maxAttempts,
    backoffBaseMs: partial?.backoffBaseMs ?? defaults.backoffBaseMs,
    backoffMultiplier: partial?.backoffMultiplier ?? defaults.backoffMultiplier,
    maxBackoffMs: partial?.maxBackoffMs ?? defaults.maxBackoffMs,
    jitter: partial?.jitter ?? defaults.jitter,
  };
}
