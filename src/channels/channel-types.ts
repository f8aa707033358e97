/**
 * The vocabulary of bounded channels: overflow policies, send outcomes, construction options and the counters a
 * channel reports (read by the channel monitor, `/health` and `/metrics`).
 */
/** Every overflow policy a channel can use; the config schema validates against this list. */
export const OVERFLOW_POLICIES = ['block', 'drop_oldest', 'drop_newest', 'reject'] as const;

/**
 * What a channel does with a send when it is at capacity:
 * - `block`: the sender waits (FIFO) until a receiver frees a slot, or until `sendTimeoutMs` elapses.
 * - `drop_oldest`: the oldest buffered item is evicted and the new one accepted.
 * - `drop_newest`: the new item is discarded.
 * - `reject`: the send fails with `ChannelFullError`.
 */
export type OverflowPolicy = (typeof OVERFLOW_POLICIES)[number];

/**
 * Result of a send. `sent`: the item is in the channel (or was handed straight to a receiver).
 * `dropped`: the item was discarded by `drop_newest`. `full`: only from `BoundedChannel.trySend` on a
 * `block` channel with no free slot; the item was not taken.
 */
export type SendOutcome = 'sent' | 'dropped' | 'full';

/** Why an item was discarded, as passed to {@link BoundedChannelOptions.onDrop}. */
export type DropReason = 'drop_newest' | 'drop_oldest';

/** Construction options of a `BoundedChannel`. */
export interface BoundedChannelOptions<T> {
  /** Name used in errors, stats and monitor warnings. */
  name: string;
  /** Maximum number of buffered items (integer >= 1). */
  capacity: number;
  overflowPolicy: OverflowPolicy;
  /** For `block`: how long a send may wait before failing with `CHANNEL_FULL`; 0 or absent = forever. */
  sendTimeoutMs?: number;
  /**
   * Called synchronously, after the channel state is updated, with every item a drop policy discards.
   * It should not throw: an exception propagates to the sender even though the drop already happened.
   */
  onDrop?: (item: T, reason: DropReason) => void;
}

/** Point-in-time counters of one channel. Cheap to produce; safe to call from a monitor at any time. */
export interface ChannelStats {
  name: string;
  capacity: number;
  /** Items currently buffered (not counting items held by blocked senders). */
  depth: number;
  /** Largest `depth` ever observed. */
  highWaterMark: number;
  /** Items accepted into the channel, including direct hand-offs to waiting receivers. */
  sent: number;
  /** Items taken out by receive, tryReceive, drain or iteration. */
  received: number;
  /** Items discarded by `drop_newest` or evicted by `drop_oldest`. */
  dropped: number;
  /** Sends that had to wait for space (`block` policy). */
  blockedSends: number;
  /** Total time senders have spent waiting, including waits still in progress, in ms. */
  timeBlockedMs: number;
  /** `depth / capacity`, from 0 to 1. */
  saturation: number;
  /** Senders currently waiting for space. */
  waitingSenders: number;
  /** Receivers currently waiting for an item. */
  waitingReceivers: number;
  closed: boolean;
}
