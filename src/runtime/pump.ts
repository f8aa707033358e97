import type { Logger } from 'pino';

/**
 * Runs a batch function whenever there may be work, and keeps running it while it finds full batches.
 *
 * `batch()` returns true when it processed a full batch (there is probably more). A wake while a run is in
 * progress is remembered, so no wake-up is lost; a full batch lets a second runner start in parallel (up to
 * `concurrency`), which overlaps one batch's commit with the next batch's work. One wake with one item costs
 * exactly one call.
 */
export class Pump {
  readonly #batch: () => Promise<boolean>;
  readonly #concurrency: number;
  readonly #logger: Logger;
  readonly #name: string;
  #running = 0;
  #pending = false;
  #stopped = false;
  #idleWaiters: (() => void)[] = [];
  #errorBackoffMs = 0;

  constructor(options: { name: string; batch: () => Promise<boolean>; concurrency: number; logger: Logger }) {
    this.#batch = options.batch;
    this.#concurrency = Math.max(1, options.concurrency);
    this.#logger = options.logger;
    this.#name = options.name;
  }

  /** Signals that there may be work. Cheap and synchronous. */
  wake(): void {
    if (this.#stopped) return;
    if (this.#running === 0) {
      this.#spawn();
    } else {
      this.#pending = true;
    }
  }

  /** Stops starting new batches and waits for running ones to finish. */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#running === 0) return;
    await new Promise<void>((resolve) => this.#idleWaiters.push(resolve));
  }

  get running(): number {
    return this.#running;
  }

  #spawn(): void {
    this.#running += 1;
    void this.#run().finally(() => {
      this.#running -= 1;
      if (this.#running === 0) {
        for (const w of this.#idleWaiters.splice(0)) w();
      }
    });
  }

  async #run(): Promise<void> {
    while (!this.#stopped) {
      this.#pending = false;
      let full: boolean;
      try {
        full = await this.#batch();
        this.#errorBackoffMs = 0;
      } catch (e) {
        // The work stays in PostgreSQL; back off and let the next wake or poll tick retry it.
        this.#errorBackoffMs = Math.min(5000, Math.max(50, this.#errorBackoffMs * 2));
        this.#logger.warn({ err: e, pump: this.#name, retryInMs: this.#errorBackoffMs }, 'batch failed');
        await new Promise((r) => setTimeout(r, this.#errorBackoffMs).unref());
        continue;
      }
      if (full && this.#running < this.#concurrency) this.#spawn();
      if (!full && !this.#pending) return;
    }
  }
}
