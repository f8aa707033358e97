import type pg from 'pg';
import type { Logger } from 'pino';

/** Connection-acquire statistics of one pool. */
export interface PoolAcquireStats {
  /** Acquisitions measured (the percentiles cover the latest 1,024). */
  count: number;
  /** Acquisitions that waited on a full pool for longer than the warning threshold. */
  slow: number;
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
}

const SAMPLES = 1024;

class AcquireRecorder {
  readonly #samples = new Float64Array(SAMPLES);
  #count = 0;
  #slow = 0;

  record(ms: number, slow: boolean): void {
    this.#samples[this.#count % SAMPLES] = ms;
    this.#count += 1;
    if (slow) this.#slow += 1;
  }

  stats(): PoolAcquireStats {
    const n = Math.min(this.#count, SAMPLES);
    const sorted = Array.from(this.#samples.subarray(0, n)).sort((a, b) => a - b);
    const at = (p: number): number => (n === 0 ? 0 : sorted[Math.min(n - 1, Math.ceil((p / 100) * n) - 1)]!);
    const round = (v: number): number => Math.round(v * 1000) / 1000;
    return {
      count: this.#count,
      slow: this.#slow,
      p50Ms: round(at(50)),
      p95Ms: round(at(95)),
      p99Ms: round(at(99)),
    };
  }
}

const recorders = new WeakMap<pg.Pool, AcquireRecorder>();

/**
 * Measures how long getting a connection from `pool` takes (every `query` and `connect` goes through
 * `connect`), keeps the latest samples for percentiles, and warns (at most every 10 s) when one takes longer
 * than `slowAcquireWarnMs` (0 = never) while the pool was full: only then does a slow acquisition mean the pool
 * is too small for its load. An acquisition that opens a new connection (the first ones at start-up, or after
 * idle connections were closed) measures the database's connect time instead, and is never reported as slow.
 */
export function instrumentPool(
  pool: pg.Pool,
  options: { slowAcquireWarnMs: number; logger?: Logger; name: string },
): void {
  if (recorders.has(pool)) return;
  const recorder = new AcquireRecorder();
  recorders.set(pool, recorder);
  let lastWarn = 0;
  const original = pool.connect.bind(pool) as (
    cb?: (err: Error | undefined, client?: pg.PoolClient, done?: () => void) => void,
  ) => Promise<pg.PoolClient> | undefined;
  // pg opens a new connection when no idle one exists and the pool is below its maximum (`totalCount` includes
  // connections still being opened); only a full pool makes a caller wait for another one to be released.
  const max = (pool as { options?: { max?: number } }).options?.max ?? Number.POSITIVE_INFINITY;
  const waitsOnFullPool = (): boolean => pool.idleCount === 0 && pool.totalCount >= max;
  const observe = (t0: number, full: boolean): void => {
    const ms = performance.now() - t0;
    const slow = full && options.slowAcquireWarnMs > 0 && ms > options.slowAcquireWarnMs;
    recorder.record(ms, slow);
    if (slow && options.logger && Date.now() - lastWarn > 10_000) {
      lastWarn = Date.now();
      options.logger.warn(
        { pool: options.name, acquireMs: Math.round(ms), waiting: pool.waitingCount, total: pool.totalCount },
        'slow connection acquisition: the pool may be too small for its load',
      );
    }
  };
  // pg's Pool.connect has a callback form (used by Pool.query) and a promise form; both are measured.
  (pool as { connect: unknown }).connect = (
    cb?: (err: Error | undefined, client?: pg.PoolClient, done?: () => void) => void,
  ) => {
    const t0 = performance.now();
    const full = waitsOnFullPool();
    if (typeof cb === 'function') {
      return original((err, client, done) => {
        observe(t0, full);
        cb(err, client, done);
      });
    }
    const p = original();
    return p?.then(
      (client) => {
        observe(t0, full);
        return client;
      },
      (e: unknown) => {
        observe(t0, full);
        throw e;
      },
    );
  };
}

/** Acquire statistics of an instrumented pool (undefined when it was not instrumented). */
export function poolAcquireStats(pool: pg.Pool): PoolAcquireStats | undefined {
  return recorders.get(pool)?.stats();
}
