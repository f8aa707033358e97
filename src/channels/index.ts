/**
 * Bounded in-process channels, a semaphore and a monitor: the back-pressure primitives between the
 * database-facing loops and the handler pools.
 */
import { BoundedChannel, type DropReason, type OverflowPolicy } from './bounded-channel.js';

export {
  BoundedChannel,
  OVERFLOW_POLICIES,
  type BoundedChannelOptions,
  type ChannelStats,
  type DropReason,
  type OverflowPolicy,
  type SendOutcome,
} from './bounded-channel.js';
export { ChannelClosedError, ChannelFullError } from './errors.js';
export { Semaphore, type ReleasePermit } from './semaphore.js';
export {
  ChannelMonitor,
  type ChannelMonitorOptions,
  type MonitoredChannel,
  type MonitorLogger,
} from './channel-monitor.js';

/** The channel settings as they appear in configuration (snake_case, as in TOML). */
export interface ChannelSettings {
  capacity: number;
  overflow_policy: OverflowPolicy;
  /** 0 = a blocked send waits forever. */
  send_timeout_ms: number;
}

/** Builds a channel from its configuration table, e.g. `config.worker.channels.dispatch`. */
export function channelFromConfig<T>(
  name: string,
  cfg: Readonly<ChannelSettings>,
  options: { onDrop?: (item: T, reason: DropReason) => void } = {},
): BoundedChannel<T> {
  return new BoundedChannel<T>({
    name,
    capacity: cfg.capacity,
    overflowPolicy: cfg.overflow_policy,
    sendTimeoutMs: cfg.send_timeout_ms,
    ...(options.onDrop ? { onDrop: options.onDrop } : {}),
  });
}
