import type { Queryable } from '../db/pool.js';
import type { Logger } from 'pino';
import type { TaskerConfig } from '../config/index.js';
import { queryRows } from '../db/query.js';

/** One task the detector found stuck. */
export interface StaleTask {
  taskUuid: string;
  state: string;
  secondsInState: number;
  ageSeconds: number;
  action: 'moved_to_error' | 'would_move_to_error';
}

/**
 * Finds tasks stuck in one state past the configured thresholds, moves them to `error` and records them in the
 * dead-letter queue (`tasker.detect_stale_tasks`). The last line of defence when something outside the engine
 * went wrong: no worker serves a namespace, a handler hangs for hours, a retry that never comes.
 */
export class StalenessDetector {
  readonly #pool: Queryable;
  readonly #settings: TaskerConfig['orchestration']['staleness'];
  readonly #processorId: string;
  readonly #logger: Logger;
  readonly #onStale: (tasks: StaleTask[]) => void;
  #timer: ReturnType<typeof setInterval> | undefined;
  #running: Promise<void> | undefined;

  constructor(options: {
    pool: Queryable;
    settings: TaskerConfig['orchestration']['staleness'];
    processorId: string;
    logger: Logger;
    onStale?: (tasks: StaleTask[]) => void;
  }) {
    this.#pool = options.pool;
    this.#settings = options.settings;
    this.#processorId = options.processorId;
    this.#logger = options.logger;
    this.#onStale = options.onStale ?? (() => {});
  }

  start(): void {
    if (!this.#settings.enabled || this.#timer) return;
    this.#timer = setInterval(() => {
      this.#running ??= this.runOnce()
        .then(() => undefined)
        .catch((e: unknown) => this.#logger.warn({ err: e }, 'staleness detection failed; will try again'))
        .finally(() => {
          this.#running = undefined;
        });
    }, this.#settings.interval_ms);
    this.#timer.unref();
  }

  async stop(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#running;
  }

  /** One detection pass (also used by tests and operators). */
  async runOnce(): Promise<StaleTask[]> {
    const s = this.#settings;
    const thresholds = {
      steps_in_process_seconds: s.steps_in_process_seconds,
      waiting_for_retry_seconds: s.waiting_for_retry_seconds,
      blocked_by_failures_seconds: s.blocked_by_failures_seconds,
      max_lifetime_seconds: s.max_lifetime_seconds,
    };
    const rows = await queryRows<{
      task_uuid: string;
      state: string;
      seconds_in_state: number;
      age_seconds: number;
      action: StaleTask['action'];
    }>(this.#pool, { text: 'SELECT * FROM tasker.detect_stale_tasks($1, $2, $3, $4)' }, [
      JSON.stringify(thresholds),
      s.batch_size,
      s.dry_run,
      this.#processorId,
    ]);
    const stale = rows.map((r) => ({
      taskUuid: r.task_uuid,
      state: r.state,
      secondsInState: r.seconds_in_state,
      ageSeconds: r.age_seconds,
      action: r.action,
    }));
    for (const t of stale) {
      this.#logger.warn(
        t,
        t.action === 'moved_to_error' ? 'stuck task moved to error (see the DLQ)' : 'stuck task (dry run)',
      );
    }
    if (stale.length > 0) this.#onStale(stale);
    return stale;
  }
}
