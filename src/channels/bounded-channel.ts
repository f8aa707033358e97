/**
 * BoundedChannel: an in-process FIFO queue of fixed capacity between two components (ADR 0001), with a chosen
 * overflow policy, receivers that wait, senders that block when the policy says so, and counters for monitoring.
 * Its types are in `channel-types.ts`.
 */
import { coerceError } from '../errors.js';
import { ChannelClosedError, ChannelFullError } from './errors.js';
import { WaitQueue, type WaitNode } from './wait-queue.js';
import {
  OVERFLOW_POLICIES,
  type BoundedChannelOptions,
  type ChannelStats,
  type DropReason,
  type OverflowPolicy,
  type SendOutcome,
} from './channel-types.js';

export {
  OVERFLOW_POLICIES,
  type BoundedChannelOptions,
  type ChannelStats,
  type DropReason,
  type OverflowPolicy,
  type SendOutcome,
} from './channel-types.js';

interface BlockedSender<T> {
  readonly item: T;
  readonly startedAt: number;
  readonly resolve: (outcome: SendOutcome) => void;
  readonly reject: (error: Error) => void;
  timer: ReturnType<typeof setTimeout> | undefined;
}

interface WaitingReceiver<T> {
  readonly resolve: (item: T | undefined) => void;
  readonly reject: (error: Error) => void;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
}

// Shared settled promises: the non-blocking send path must not allocate, and an already-resolved promise
// is immutable, so every caller can safely get the same instance.
const SENT: Promise<SendOutcome> = Promise.resolve('sent');
const DROPPED: Promise<SendOutcome> = Promise.resolve('dropped');
const END: Promise<undefined> = Promise.resolve(undefined);

/** Initial ring size; it doubles on demand up to `capacity`, so a huge but mostly empty channel stays small. */
const INITIAL_RING_SIZE = 16;

/**
 * An in-process bounded FIFO queue between async producers and consumers, with an explicit overflow policy.
 *
 * Every operation is O(1) (amortized for ring growth). `undefined` is reserved as the "closed and drained"
 * signal of {@link receive}, so it cannot be sent.
 *
 * Close semantics: after {@link close}, sends fail with {@link ChannelClosedError}, blocked senders are
 * rejected (their items are not delivered), and receivers still get every buffered item before `undefined`.
 */
export class BoundedChannel<T> implements AsyncIterable<T> {
  readonly name: string;
  readonly capacity: number;
  readonly overflowPolicy: OverflowPolicy;
  readonly sendTimeoutMs: number;
  private readonly onDrop: ((item: T, reason: DropReason) => void) | undefined;

  // Ring buffer: `size` items starting at `head`, wrapping at ring.length.
  private ring: (T | undefined)[];
  private head = 0;
  private size = 0;

  private readonly senders = new WaitQueue<BlockedSender<T>>();
  private readonly receivers = new WaitQueue<WaitingReceiver<T>>();
  private isClosed = false;

  private sentCount = 0;
  private receivedCount = 0;
  private droppedCount = 0;
  private blockedSendCount = 0;
  private highWater = 0;
  private finishedBlockedMs = 0;
  // Sum of start times of senders still waiting, so in-progress wait time is O(1) to compute.
  private waitingStartSum = 0;

  constructor(options: BoundedChannelOptions<T>) {
    const { name, capacity, overflowPolicy, sendTimeoutMs = 0 } = options;
    if (!Number.isInteger(capacity) || capacity < 1) {
      throw new RangeError(`channel '${name}': capacity must be an integer >= 1, got ${capacity}`);
    }
    if (!(OVERFLOW_POLICIES as readonly string[]).includes(overflowPolicy)) {
      throw new RangeError(`channel '${name}': unknown overflow policy '${String(overflowPolicy)}'`);
    }
    if (!Number.isFinite(sendTimeoutMs) || sendTimeoutMs < 0) {
      throw new RangeError(`channel '${name}': sendTimeoutMs must be >= 0, got ${sendTimeoutMs}`);
    }
    this.name = name;
    this.capacity = capacity;
    this.overflowPolicy = overflowPolicy;
    this.sendTimeoutMs = sendTimeoutMs;
    this.onDrop = options.onDrop;
    this.ring = new Array<T | undefined>(Math.min(capacity, INITIAL_RING_SIZE));
  }

  /** Items currently buffered. */
  get depth(): number {
    return this.size;
  }

  /** True once {@link close} has been called. */
  get closed(): boolean {
    return this.isClosed;
  }

  /**
   * Sends an item, applying the overflow policy when the channel is full. Never throws synchronously:
   * failures (closed channel, `reject` policy, `block` timeout) come back as a rejected promise.
   */
  send(item: T): Promise<SendOutcome> {
    if (item === undefined) return Promise.reject(this.undefinedItemError());
    if (this.isClosed) return Promise.reject(new ChannelClosedError(this.name));
    if (this.size < this.capacity) {
      this.accept(item);
      return SENT;
    }
    switch (this.overflowPolicy) {
      case 'block':
        return this.park(item);
      case 'drop_newest':
        this.dropNewest(item);
        return DROPPED;
      case 'drop_oldest':
        this.evictOldestAndAccept(item);
        return SENT;
      case 'reject':
        return Promise.reject(this.fullError());
    }
  }

  /**
   * Like {@link send} but never waits: on a full `block` channel it returns `'full'` and does not keep the
   * item. Other policies behave as in `send`; `reject` throws {@link ChannelFullError}.
   *
   * @throws {ChannelClosedError} when the channel is closed.
   */
  trySend(item: T): SendOutcome {
    if (item === undefined) throw this.undefinedItemError();
    if (this.isClosed) throw new ChannelClosedError(this.name);
    if (this.size < this.capacity) {
      this.accept(item);
      return 'sent';
    }
    switch (this.overflowPolicy) {
      case 'block':
        return 'full';
      case 'drop_newest':
        this.dropNewest(item);
        return 'dropped';
      case 'drop_oldest':
        this.evictOldestAndAccept(item);
        return 'sent';
      case 'reject':
        throw this.fullError();
    }
  }

  /**
   * Waits for the next item. Resolves `undefined` once the channel is closed and drained. If `signal`
   * aborts first, the wait is abandoned and the promise rejects with the signal's reason (wrapped in an
   * `Error` if it is not one).
   */
  receive(signal?: AbortSignal): Promise<T | undefined> {
    if (this.size > 0) return Promise.resolve(this.takeOne());
    if (this.isClosed) return END;
    if (signal?.aborted) return Promise.reject(coerceError(signal.reason));
    return new Promise<T | undefined>((resolve, reject) => {
      const waiter: WaitingReceiver<T> = { resolve, reject, signal: undefined, onAbort: undefined };
      const node = this.receivers.push(waiter);
      if (signal) {
        waiter.signal = signal;
        waiter.onAbort = () => {
          this.receivers.remove(node);
          reject(coerceError(signal.reason));
        };
        signal.addEventListener('abort', waiter.onAbort, { once: true });
      }
    });
  }

  /** Takes the next item if one is buffered, else `undefined`. */
  tryReceive(): T | undefined {
    return this.size > 0 ? this.takeOne() : undefined;
  }

  /**
   * Takes up to `max` items that are available right now, oldest first, without waiting. Items of blocked
   * senders count as available: each slot freed admits the next blocked sender, which keeps FIFO order.
   */
  drain(max: number): T[] {
    const out: T[] = [];
    while (out.length < max && this.size > 0) out.push(this.takeOne());
    return out;
  }

  /**
   * Closes the channel: later sends fail, blocked senders are rejected with {@link ChannelClosedError},
   * and waiting receivers resolve `undefined` (they only wait when nothing is buffered). Buffered items stay
   * receivable. Idempotent.
   */
  close(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    const now = performance.now();
    for (let s = this.senders.shift(); s; s = this.senders.shift()) {
      this.finishWait(s, now);
      s.reject(
        new ChannelClosedError(this.name, `channel '${this.name}' was closed while a send was waiting`),
      );
    }
    for (let r = this.receivers.shift(); r; r = this.receivers.shift()) {
      this.detachAbort(r);
      r.resolve(undefined);
    }
  }

  /** Current counters; see {@link ChannelStats}. */
  stats(): ChannelStats {
    const waiting = this.senders.length;
    const inProgress = waiting === 0 ? 0 : waiting * performance.now() - this.waitingStartSum;
    return {
      name: this.name,
      capacity: this.capacity,
      depth: this.size,
      highWaterMark: this.highWater,
      sent: this.sentCount,
      received: this.receivedCount,
      dropped: this.droppedCount,
      blockedSends: this.blockedSendCount,
      timeBlockedMs: this.finishedBlockedMs + inProgress,
      saturation: this.size / this.capacity,
      waitingSenders: waiting,
      waitingReceivers: this.receivers.length,
      closed: this.isClosed,
    };
  }

  /** Yields items until the channel is closed and drained. */
  async *[Symbol.asyncIterator](): AsyncGenerator<T, void, undefined> {
    for (;;) {
      const item = await this.receive();
      if (item === undefined) return;
      yield item;
    }
  }

  /** Puts an item into the channel; caller guarantees there is room. */
  private accept(item: T): void {
    this.sentCount++;
    // Receivers only wait while the buffer is empty, so handing over directly keeps FIFO order.
    const receiver = this.receivers.shift();
    if (receiver) {
      this.receivedCount++;
      this.detachAbort(receiver);
      receiver.resolve(item);
      return;
    }
    this.pushRing(item);
  }

  private dropNewest(item: T): void {
    this.droppedCount++;
    this.onDrop?.(item, 'drop_newest');
  }

  private evictOldestAndAccept(item: T): void {
    const evicted = this.shiftRing();
    this.droppedCount++;
    this.sentCount++;
    this.pushRing(item);
    this.onDrop?.(evicted, 'drop_oldest');
  }

  private park(item: T): Promise<SendOutcome> {
    this.blockedSendCount++;
    return new Promise<SendOutcome>((resolve, reject) => {
      const startedAt = performance.now();
      const waiter: BlockedSender<T> = { item, startedAt, resolve, reject, timer: undefined };
      this.waitingStartSum += startedAt;
      const node: WaitNode<BlockedSender<T>> = this.senders.push(waiter);
      if (this.sendTimeoutMs > 0) {
        waiter.timer = setTimeout(() => {
          waiter.timer = undefined;
          this.senders.remove(node);
          this.finishWait(waiter, performance.now());
          reject(
            new ChannelFullError(
              this.name,
              `channel '${this.name}' stayed full for ${this.sendTimeoutMs} ms (capacity ${this.capacity})`,
            ),
          );
        }, this.sendTimeoutMs);
      }
    });
  }

  /** Removes the head item; caller guarantees the buffer is not empty. */
  private takeOne(): T {
    const item = this.shiftRing();
    this.receivedCount++;
    // A slot just freed: admit the longest-waiting blocked sender so its item keeps its place in line.
    const sender = this.senders.shift();
    if (sender) {
      this.finishWait(sender, performance.now());
      this.sentCount++;
      this.pushRing(sender.item);
      sender.resolve('sent');
    }
    return item;
  }

  private finishWait(sender: BlockedSender<T>, now: number): void {
    if (sender.timer !== undefined) {
      clearTimeout(sender.timer);
      sender.timer = undefined;
    }
    this.waitingStartSum -= sender.startedAt;
    this.finishedBlockedMs += now - sender.startedAt;
  }

  private detachAbort(receiver: WaitingReceiver<T>): void {
    if (receiver.signal && receiver.onAbort) receiver.signal.removeEventListener('abort', receiver.onAbort);
  }

  private pushRing(item: T): void {
    if (this.size === this.ring.length) this.growRing();
    let tail = this.head + this.size;
    if (tail >= this.ring.length) tail -= this.ring.length;
    this.ring[tail] = item;
    this.size++;
    if (this.size > this.highWater) this.highWater = this.size;
  }

  private shiftRing(): T {
    const item = this.ring[this.head] as T;
    // Clear the slot so the channel does not keep consumed items alive.
    this.ring[this.head] = undefined;
    this.head++;
    if (this.head === this.ring.length) this.head = 0;
    this.size--;
    return item;
  }

  private growRing(): void {
    const old = this.ring;
    const next = new Array<T | undefined>(Math.min(this.capacity, old.length * 2));
    for (let i = 0; i < this.size; i++) {
      let idx = this.head + i;
      if (idx >= old.length) idx -= old.length;
      next[i] = old[idx];
    }
    this.ring = next;
    this.head = 0;
  }

  private fullError(): ChannelFullError {
    return new ChannelFullError(this.name, `channel '${this.name}' is full (capacity ${this.capacity})`);
  }

  private undefinedItemError(): TypeError {
    return new TypeError(`channel '${this.name}': undefined cannot be sent (it marks end of stream)`);
  }
}
