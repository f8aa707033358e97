import { coerceError } from '../errors.js';
import { ChannelClosedError } from './errors.js';
import { WaitQueue } from './wait-queue.js';

/** Gives a permit back. Calling it more than once has no further effect. */
export type ReleasePermit = () => void;

interface Acquirer {
  readonly resolve: (release: ReleasePermit) => void;
  readonly reject: (error: Error) => void;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
}

/**
 * A counting semaphore with FIFO waiters, used to cap concurrency (handlers in flight, completion batches).
 *
 * A released permit is handed straight to the longest waiter rather than returned to the pool, so a
 * steady stream of `tryAcquire` calls cannot starve queued acquirers.
 */
export class Semaphore {
  /** Name used in {@link ChannelClosedError}s. */
  readonly name: string;
  private readonly total: number;
  private free: number;
  private readonly waiters = new WaitQueue<Acquirer>();
  private isClosed = false;

  /**
   * @param permits - number of concurrent holders allowed (integer >= 1).
   * @param name - label for errors.
   */
  constructor(permits: number, name = 'semaphore') {
    if (!Number.isInteger(permits) || permits < 1) {
      throw new RangeError(`semaphore '${name}': permits must be an integer >= 1, got ${permits}`);
    }
    this.name = name;
    this.total = permits;
    this.free = permits;
  }

  /** Total permits. */
  get permits(): number {
    return this.total;
  }

  /** Permits not currently held. */
  get available(): number {
    return this.free;
  }

  /** Acquirers currently queued. */
  get waiting(): number {
    return this.waiters.length;
  }

  /** True once {@link close} has been called. */
  get closed(): boolean {
    return this.isClosed;
  }

  /**
   * Waits for a permit and resolves with its release function. Rejects with {@link ChannelClosedError} if
   * the semaphore is or becomes closed, or with the signal's reason (as an `Error`) if `signal` aborts
   * first; the waiter is then removed from the queue and will never receive a permit.
   */
  acquire(signal?: AbortSignal): Promise<ReleasePermit> {
    if (this.isClosed) return Promise.reject(new ChannelClosedError(this.name));
    if (signal?.aborted) return Promise.reject(coerceError(signal.reason));
    if (this.free > 0 && this.waiters.length === 0) {
      this.free--;
      return Promise.resolve(this.makeRelease());
    }
    return new Promise<ReleasePermit>((resolve, reject) => {
      const acquirer: Acquirer = { resolve, reject, signal: undefined, onAbort: undefined };
      const node = this.waiters.push(acquirer);
      if (signal) {
        acquirer.signal = signal;
        acquirer.onAbort = () => {
          this.waiters.remove(node);
          reject(coerceError(signal.reason));
        };
        signal.addEventListener('abort', acquirer.onAbort, { once: true });
      }
    });
  }

  /** Takes a permit if one is free and nobody is queued; otherwise returns `undefined`. */
  tryAcquire(): ReleasePermit | undefined {
    if (this.isClosed || this.free === 0 || this.waiters.length > 0) return undefined;
    this.free--;
    return this.makeRelease();
  }

  /** Runs `fn` while holding a permit, releasing it however `fn` ends. */
  async withPermit<R>(fn: () => R | Promise<R>, signal?: AbortSignal): Promise<R> {
    const release = await this.acquire(signal);
    try {
      return await fn();
    } finally {
      release();
    }
  }

  /**
   * Rejects every queued acquirer with {@link ChannelClosedError} and fails later acquisitions, so a
   * shutdown never leaves callers hanging. Permits already held can still be released. Idempotent.
   */
  close(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    for (let a = this.waiters.shift(); a; a = this.waiters.shift()) {
      this.detachAbort(a);
      a.reject(new ChannelClosedError(this.name, `semaphore '${this.name}' was closed while waiting`));
    }
  }

  private makeRelease(): ReleasePermit {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.waiters.shift();
      if (next) {
        // Hand the permit over without touching `free`: the count of held permits is unchanged.
        this.detachAbort(next);
        next.resolve(this.makeRelease());
      } else {
        this.free++;
      }
    };
  }

  private detachAbort(acquirer: Acquirer): void {
    if (acquirer.signal && acquirer.onAbort) acquirer.signal.removeEventListener('abort', acquirer.onAbort);
  }
}
