import CircuitBreaker from 'opossum';
import type pg from 'pg';
import type { Logger } from 'pino';
import type { TaskerConfig } from '../config/index.js';
import { isConnectionError } from '../db/errors.js';
import type { Queryable } from '../db/pool.js';
import { ErrorCode, TaskerError } from '../errors.js';

export type BreakerState = 'closed' | 'open' | 'half_open';

/** Raised instead of calling the database while the breaker is open. */
export class CircuitOpenError extends TaskerError {
  readonly retryAfterMs: number;
  constructor(name: string, retryAfterMs: number) {
    super(
      ErrorCode.CircuitOpen,
      `circuit breaker '${name}' is open: the database is unreachable; retry later`,
      {
        details: { breaker: name, retry_after_ms: retryAfterMs },
      },
    );
    this.retryAfterMs = retryAfterMs;
  }
}

type Action = () => Promise<unknown>;

/**
 * A circuit breaker in front of the database (opossum). Only connection-class failures count: a constraint
 * violation, a refused transition or a statement canceled by `statement_timeout` (SQLSTATE 57014) is an answer
 * from a reachable server, not an outage. While open, calls fail at once with
 * {@link CircuitOpenError} instead of piling up on a dead server; after `reset_timeout_ms` one call probes, and a
 * success closes the breaker again.
 */
export class DatabaseBreaker {
  readonly name: string;
  readonly #breaker: CircuitBreaker<[Action], unknown> | undefined;
  readonly #resetTimeoutMs: number;
  #opened = 0;

  constructor(
    name: string,
    settings: TaskerConfig['common']['circuit_breakers']['database'],
    logger: Logger,
  ) {
    this.name = name;
    this.#resetTimeoutMs = settings.reset_timeout_ms;
    if (!settings.enabled) return;
    const breaker = new CircuitBreaker<[Action], unknown>((action: Action) => action(), {
      name,
      timeout: false, // statements have their own timeouts
      volumeThreshold: settings.volume_threshold,
      errorThresholdPercentage: settings.error_threshold_percentage,
      resetTimeout: settings.reset_timeout_ms,
      rollingCountTimeout: settings.rolling_window_ms,
      // true = "not a failure": only connection-class errors may open the breaker.
      errorFilter: (err: unknown) => !isConnectionError(err),
    });
    breaker.on('open', () => {
      this.#opened += 1;
      logger.error({ breaker: name }, 'circuit breaker opened: database calls fail fast until it recovers');
    });
    breaker.on('halfOpen', () =>
      logger.warn({ breaker: name }, 'circuit breaker half-open: probing the database'),
    );
    breaker.on('close', () =>
      logger.info({ breaker: name }, 'circuit breaker closed: database reachable again'),
    );
    this.#breaker = breaker;
  }

  /** Runs `action` through the breaker. */
  async run<T>(action: () => Promise<T>): Promise<T> {
    if (!this.#breaker) return action();
    try {
      return (await this.#breaker.fire(action)) as T;
    } catch (e) {
      if (e instanceof Error && (e as { code?: string }).code === 'EOPENBREAKER') {
        throw new CircuitOpenError(this.name, this.#resetTimeoutMs);
      }
      throw e;
    }
  }

  get state(): BreakerState {
    if (!this.#breaker) return 'closed';
    if (this.#breaker.opened) return 'open';
    return this.#breaker.halfOpen ? 'half_open' : 'closed';
  }

  /** How often it opened, and the rolling counts (for health and metrics). */
  stats(): {
    name: string;
    state: BreakerState;
    timesOpened: number;
    failures: number;
    successes: number;
    rejects: number;
  } {
    const s = this.#breaker?.stats;
    return {
      name: this.name,
      state: this.state,
      timesOpened: this.#opened,
      failures: s?.failures ?? 0,
      successes: s?.successes ?? 0,
      rejects: s?.rejects ?? 0,
    };
  }

  /** A query surface whose every call goes through the breaker. */
  guard(db: Queryable): Queryable {
    const query = db.query.bind(db) as (...args: unknown[]) => Promise<unknown>;
    return { query: ((...args: unknown[]) => this.run(() => query(...args))) as Queryable['query'] };
  }

  /** The pool itself, with `query` going through the breaker (for code that needs pool statistics too). */
  guardPool(pool: pg.Pool): pg.Pool {
    const guarded = this.guard(pool);
    return new Proxy(pool, {
      get: (target, prop, receiver) =>
        prop === 'query' ? guarded.query : (Reflect.get(target, prop, receiver) as unknown),
    });
  }

  /** Stops its timers. */
  shutdown(): void {
    this.#breaker?.shutdown();
  }
}
