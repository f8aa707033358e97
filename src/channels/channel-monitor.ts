import type { Logger } from 'pino';
import type { ChannelStats } from './bounded-channel.js';

/** Anything that reports {@link ChannelStats}; in practice a `BoundedChannel` of any item type. */
export interface MonitoredChannel {
  readonly name: string;
  stats(): ChannelStats;
}

/** The part of a pino logger the monitor uses; any pino `Logger` (whatever its custom levels) fits. */
export type MonitorLogger = Pick<Logger, 'warn'>;

/** Construction options of a {@link ChannelMonitor}. */
export interface ChannelMonitorOptions {
  /** Where saturation warnings go; without one the monitor only reports through return values. */
  logger?: MonitorLogger;
  /** Saturation (0..1) at or above which {@link ChannelMonitor.check} reports a channel by default. 0.8. */
  warnThreshold?: number;
  /** Minimum time between two warnings about the same channel, in ms. Default 10 000. */
  warnIntervalMs?: number;
  /** Clock in ms, injectable so rate limiting can be tested without waiting. */
  now?: () => number;
}

const DEFAULT_WARN_THRESHOLD = 0.8;
const DEFAULT_WARN_INTERVAL_MS = 10_000;

/**
 * Registry of channels for observability: one place to snapshot every channel's stats and to warn when
 * one is close to full (a full channel means back-pressure or, with drop policies, lost work).
 *
 * Starts no timers on its own; call {@link start} for periodic checks.
 */
export class ChannelMonitor {
  private readonly channels = new Map<string, MonitoredChannel>();
  private readonly lastWarnAt = new Map<string, number>();
  private readonly logger: MonitorLogger | undefined;
  private readonly warnThreshold: number;
  private readonly warnIntervalMs: number;
  private readonly now: () => number;
  private timer: ReturnType<typeof setInterval> | undefined;

  constructor(options: ChannelMonitorOptions = {}) {
    this.logger = options.logger;
    this.warnThreshold = options.warnThreshold ?? DEFAULT_WARN_THRESHOLD;
    this.warnIntervalMs = options.warnIntervalMs ?? DEFAULT_WARN_INTERVAL_MS;
    this.now = options.now ?? Date.now;
  }

  /**
   * Adds a channel. A channel registered under a name already in use replaces the old one, so components
   * that are restarted (and rebuild their channels) do not leave stale entries behind.
   */
  register(channel: MonitoredChannel): void {
    this.channels.set(channel.name, channel);
  }

  /** Removes a channel if it is the one registered under its name. */
  unregister(channel: MonitoredChannel): void {
    if (this.channels.get(channel.name) === channel) {
      this.channels.delete(channel.name);
      this.lastWarnAt.delete(channel.name);
    }
  }

  /** Stats of every registered channel, in registration order. */
  snapshot(): ChannelStats[] {
    return Array.from(this.channels.values(), (c) => c.stats());
  }

  /**
   * Returns the stats of every channel whose saturation is at or above `threshold`, and logs a warning for
   * each of them (at most once per channel per `warnIntervalMs`, so a channel that stays full does not flood
   * the log).
   */
  check(threshold: number = this.warnThreshold): ChannelStats[] {
    const hot: ChannelStats[] = [];
    const now = this.now();
    for (const channel of this.channels.values()) {
      const stats = channel.stats();
      if (stats.saturation < threshold) continue;
      hot.push(stats);
      if (!this.logger) continue;
      const last = this.lastWarnAt.get(stats.name);
      if (last !== undefined && now - last < this.warnIntervalMs) continue;
      this.lastWarnAt.set(stats.name, now);
      this.logger.warn(
        { channel: stats },
        `channel '${stats.name}' is ${Math.round(stats.saturation * 100)}% full (${stats.depth}/${stats.capacity})`,
      );
    }
    return hot;
  }

  /** Runs {@link check} every `intervalMs` until {@link stop}. The timer never keeps the process alive. */
  start(intervalMs: number): void {
    if (!Number.isFinite(intervalMs) || intervalMs <= 0) {
      throw new RangeError(`channel monitor interval must be > 0 ms, got ${intervalMs}`);
    }
    this.stop();
    this.timer = setInterval(() => {
      this.check();
    }, intervalMs);
    this.timer.unref();
  }

  /** Stops periodic checks. Safe to call when not started. */
  stop(): void {
    if (this.timer !== undefined) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }
}
