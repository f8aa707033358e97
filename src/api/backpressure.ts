import type { Logger } from 'pino';
import type { ChannelMonitor } from '../channels/index.js';
import type { TaskerConfig } from '../config/index.js';
import type { Queryable } from '../db/pool.js';
import { queryRows } from '../db/query.js';
import { QUEUES } from '../contract/names.js';
import type { DatabaseBreaker } from '../resilience/breaker.js';

/** Whether new work is accepted, and why not. */
export interface BackpressureVerdict {
  overloaded: boolean;
  reason: string | null;
  retryAfterSeconds: number;
  resultsQueueDepth: number | null;
  evaluatedAt: number;
}

/**
 * Decides, on a timer, whether the engine can accept more work; task creation reads the cached verdict without
 * waiting (so the check costs a request nothing). Overloaded when the database breaker is open, a monitored
 * channel is nearly full, or step results are piling up faster than orchestration settles them.
 */
export class BackpressureEvaluator {
  readonly #settings: TaskerConfig['orchestration']['backpressure'];
  readonly #db: Queryable;
  readonly #breaker: DatabaseBreaker | undefined;
  readonly #channels: ChannelMonitor | undefined;
  readonly #logger: Logger;
  #verdict: BackpressureVerdict;
  #timer: ReturnType<typeof setInterval> | undefined;
  #running = false;

  constructor(options: {
    settings: TaskerConfig['orchestration']['backpressure'];
    db: Queryable;
    breaker?: DatabaseBreaker | undefined;
    channels?: ChannelMonitor | undefined;
    logger: Logger;
  }) {
    this.#settings = options.settings;
    this.#db = options.db;
    this.#breaker = options.breaker;
    this.#channels = options.channels;
    this.#logger = options.logger;
    this.#verdict = {
      overloaded: false,
      reason: null,
      retryAfterSeconds: options.settings.retry_after_seconds,
      resultsQueueDepth: null,
      evaluatedAt: 0,
    };
  }

  /** The latest verdict (never waits). */
  get verdict(): BackpressureVerdict {
    return this.#verdict;
  }

  start(): void {
    if (!this.#settings.enabled || this.#timer) return;
    void this.evaluate();
    this.#timer = setInterval(() => void this.evaluate(), this.#settings.evaluation_interval_ms);
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** Refreshes the verdict now. */
  async evaluate(): Promise<BackpressureVerdict> {
    if (this.#running) return this.#verdict;
    this.#running = true;
    try {
      const s = this.#settings;
      let reason: string | null = null;
      let depth: number | null = null;
      if (this.#breaker?.state === 'open') reason = 'the database circuit breaker is open';
      const full = this.#channels?.check(s.channel_critical_saturation) ?? [];
      if (!reason && full.length > 0) {
        reason = `channel ${full[0]!.name} is ${Math.round(full[0]!.saturation * 100)}% full`;
      }
      if (!reason) {
        try {
          const [row] = await queryRows<{ queue_length: string }>(
            this.#db,
            { name: 'tasker_backpressure_depth', text: 'SELECT queue_length FROM tasker.queue_metrics($1)' },
            [QUEUES.StepResults],
          );
          depth = Number(row?.queue_length ?? 0);
          if (depth >= s.results_queue_critical_depth) {
            reason = `${depth} step results are waiting for orchestration (critical at ${s.results_queue_critical_depth})`;
          }
        } catch (e) {
          this.#logger.warn({ err: e }, 'back-pressure evaluation could not read the queue depth');
        }
      }
      const overloaded = reason !== null;
      if (overloaded !== this.#verdict.overloaded) {
        if (overloaded) this.#logger.warn({ reason }, 'overloaded: new tasks are refused until it clears');
        else this.#logger.info('no longer overloaded: accepting new tasks');
      }
      this.#verdict = {
        overloaded,
        reason,
        retryAfterSeconds: s.retry_after_seconds,
        resultsQueueDepth: depth,
        evaluatedAt: Date.now(),
      };
      return this.#verdict;
    } finally {
      this.#running = false;
    }
  }
}
