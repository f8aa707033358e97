/**
 * Whether a process's engine writes are getting through. The circuit breaker only counts connection failures,
 * so a process whose every completion or result batch fails for another reason (a full disk, a constraint, a
 * statement timeout) would otherwise look healthy while doing nothing useful: after
 * `common.health.degraded_after_failed_writes` failures in a row it reports itself degraded until one write
 * succeeds.
 */
export class WriteHealth {
  readonly #what: string;
  readonly #threshold: number;
  #consecutiveFailures = 0;
  #lastError: string | undefined;
  #failingSince: Date | undefined;

  /**
   * @param what  what the writes are, as the health reason names them (e.g. "step completion writes").
   * @param threshold  failures in a row that make the process degraded.
   */
  constructor(what: string, threshold: number) {
    this.#what = what;
    this.#threshold = Math.max(1, threshold);
  }

  /** A write committed: the streak of failures is over. */
  succeeded(): void {
    this.#consecutiveFailures = 0;
    this.#lastError = undefined;
    this.#failingSince = undefined;
  }

  /** A write failed (after which it may be retried; each try counts). */
  failed(error: unknown): void {
    this.#consecutiveFailures += 1;
    this.#failingSince ??= new Date();
    // Only the message: health bodies are read by monitoring systems and carry no stacks.
    this.#lastError = error instanceof Error ? error.message : String(error);
  }

  /** Failures since the last successful write. */
  get consecutiveFailures(): number {
    return this.#consecutiveFailures;
  }

  /** Why the process is degraded because of its writes, or undefined while they get through. */
  get degradedReason(): string | undefined {
    if (this.#consecutiveFailures < this.#threshold) return undefined;
    return (
      `the last ${this.#consecutiveFailures} ${this.#what} failed (since ${this.#failingSince?.toISOString()}): ` +
      `${this.#lastError ?? 'unknown error'}`
    );
  }
}
