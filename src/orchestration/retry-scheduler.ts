import type { Queryable } from '../db/pool.js';
import type { Logger } from 'pino';
import { mapDbError } from '../db/errors.js';

export interface RetrySchedulerOptions {
  /** Where to run the scan (the orchestrator passes its breaker-guarded pool). */
  pool: Queryable;
  processorId: string;
  batchSize: number;
  pollIntervalMs: number;
  logger: Logger;
  onEnqueued: (n: number) => void;
}

/**
 * Re-enqueues steps whose retry backoff has elapsed. It sleeps until the earliest known retry time (learned
 * from the database and from result batches), and never longer than the poll interval, so a retry fires on
 * time even when another orchestrator scheduled it.
 */
export class RetryScheduler {
  readonly #options: RetrySchedulerOptions;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #dueAt = Infinity;
  #running: Promise<void> | undefined;
  #stopped = true;

  constructor(options: RetrySchedulerOptions) {
    this.#options = options;
  }

  start(): void {
    this.#stopped = false;
    this.#schedule(0);
  }

  stop(): void {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /** Resolves when no tick is running. */
  async idle(): Promise<void> {
    await this.#running;
  }

  /** A retry is due at `at`: wake up then if that is sooner than planned. */
  hint(at: Date): void {
    if (this.#stopped) return;
    const delay = Math.max(0, at.getTime() - Date.now());
    if (Date.now() + delay < this.#dueAt) this.#schedule(delay);
  }

  #schedule(delayMs: number): void {
    if (this.#stopped) return;
    if (this.#timer) clearTimeout(this.#timer);
    const delay = Math.min(delayMs, this.#options.pollIntervalMs);
    this.#dueAt = Date.now() + delay;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#dueAt = Infinity;
      this.#running = this.#tick().finally(() => {
        this.#running = undefined;
      });
    }, delay);
    this.#timer.unref();
  }

  async #tick(): Promise<void> {
    let next: Date | null = null;
    let enqueued = 0;
    try {
      const res = await this.#options.pool.query<{ steps_enqueued: number; next_retry_at: Date | null }>({
        name: 'tasker_enqueue_due_retries',
        text: 'SELECT * FROM tasker.enqueue_due_retries($1, $2)',
        values: [this.#options.batchSize, this.#options.processorId],
      });
      enqueued = res.rows[0]?.steps_enqueued ?? 0;
      next = res.rows[0]?.next_retry_at ?? null;
      if (enqueued > 0) this.#options.onEnqueued(enqueued);
    } catch (e) {
      this.#options.logger.warn({ err: mapDbError(e) }, 'retry scan failed; will try again');
    }
    if (this.#stopped) return;
    if (enqueued >= this.#options.batchSize) {
      this.#schedule(0);
    } else if (next) {
      // A due time in the past with nothing enqueued means another orchestrator holds that task: back off a bit.
      const delay = next.getTime() - Date.now();
      this.#schedule(delay > 0 ? delay : Math.min(50, this.#options.pollIntervalMs));
    } else {
      this.#schedule(this.#options.pollIntervalMs);
    }
  }
}
