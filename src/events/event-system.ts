import type { Logger } from 'pino';
import { channelFromConfig, type BoundedChannel, type ChannelSettings } from '../channels/index.js';
import { coerceError } from '../errors.js';
import { childLogger, silentLogger } from '../observability/logger.js';
import { compileEventPattern } from './matching.js';
import type { DomainEvent } from './types.js';

/** A subscriber of in-process (`fast` / `broadcast`) domain events. Its failures never affect any step. */
export type DomainEventSubscriber = (event: DomainEvent) => void | Promise<void>;

/** Counters of the event system, updated without locks. */
export interface DomainEventStats {
  /** Events accepted into the in-process channel. */
  published: number;
  /** Events dropped because the channel was full (its overflow policy decides which). */
  dropped: number;
  /** Subscriber calls that returned normally. */
  delivered: number;
  /** Subscriber calls that threw or rejected. */
  subscriberFailures: number;
  /** Events no subscriber matched. */
  unmatched: number;
  /** Durable events written in the same transaction as their step's result (counted by the publishers). */
  durableWritten: number;
}

interface Subscription {
  name: string;
  pattern: string;
  matches: (name: string) => boolean;
  handler: DomainEventSubscriber;
}

/** Used when a subscriber registers before any worker configured the system. */
const DEFAULT_CHANNEL: ChannelSettings = {
  capacity: 1000,
  overflow_policy: 'drop_newest',
  send_timeout_ms: 0,
};

/**
 * The process's domain-event system: every publisher (each worker's completion path) and every subscriber of
 * the process share this one instance ({@link DomainEventSystem.shared}). Fast events pass through one bounded
 * channel to a dispatch loop that calls the matching subscribers; publishing never waits (a full channel drops
 * per its policy and counts it), and a subscriber that throws is logged and counted, nothing more.
 */
export class DomainEventSystem {
  static #shared: DomainEventSystem | undefined;

  /** The process-wide instance, created on first use. */
  static shared(): DomainEventSystem {
    DomainEventSystem.#shared ??= new DomainEventSystem();
    return DomainEventSystem.#shared;
  }

  readonly stats: DomainEventStats = {
    published: 0,
    dropped: 0,
    delivered: 0,
    subscriberFailures: 0,
    unmatched: 0,
    durableWritten: 0,
  };
  readonly #subscriptions = new Set<Subscription>();
  #channel: BoundedChannel<DomainEvent> | undefined;
  #settings: ChannelSettings | undefined;
  #logger: Logger = silentLogger();
  #loop: Promise<void> | undefined;
  /** Events taken from the channel whose subscribers have not all returned yet. */
  #dispatching = 0;
  #idleWaiters: (() => void)[] = [];
  #lastFailureLog = 0;

  /**
   * Sets the channel size and policy and the logger. The first configuration wins (the channel exists once per
   * process); a later, different one is logged and ignored.
   */
  configure(settings: Readonly<ChannelSettings>, logger?: Logger): void {
    if (logger) this.#logger = childLogger(logger, { component: 'domain-events' });
    if (this.#settings) {
      const same =
        this.#settings.capacity === settings.capacity &&
        this.#settings.overflow_policy === settings.overflow_policy;
      if (!same) {
        this.#logger.warn(
          { active: this.#settings, ignored: settings },
          'domain event channel already configured in this process; keeping the first settings',
        );
      }
      return;
    }
    this.#settings = { ...settings };
  }

  /** The in-process channel (for the channel monitor); created on first use. */
  get channel(): BoundedChannel<DomainEvent> {
    if (!this.#channel) {
      this.#channel = channelFromConfig<DomainEvent>('domain_events', this.#settings ?? DEFAULT_CHANNEL);
      this.#loop = this.#dispatchLoop(this.#channel);
    }
    return this.#channel;
  }

  /**
   * Subscribes to fast and broadcast events whose name matches `pattern` (`*` = all; `payment.*` one segment;
   * `payment.**` any depth). Returns the function that unsubscribes.
   *
   * @example
   * const off = DomainEventSystem.shared().subscribe('payment.*', async (e) => audit.record(e));
   */
  subscribe(pattern: string, handler: DomainEventSubscriber, options: { name?: string } = {}): () => void {
    const sub: Subscription = {
      name: options.name ?? handler.name ?? 'anonymous',
      pattern,
      matches: compileEventPattern(pattern),
      handler,
    };
    this.#subscriptions.add(sub);
    void this.channel; // start dispatching
    return () => {
      this.#subscriptions.delete(sub);
    };
  }

  /** Number of current subscriptions. */
  get subscriberCount(): number {
    return this.#subscriptions.size;
  }

  /** Hands fast events to the dispatch loop without waiting. Returns how many were accepted. */
  publish(events: readonly DomainEvent[]): number {
    let accepted = 0;
    const channel = this.channel;
    for (const event of events) {
      let outcome;
      try {
        outcome = channel.trySend(event);
      } catch {
        outcome = 'dropped' as const; // `reject` policy or a closed channel: the event is not delivered
      }
      if (outcome === 'sent') {
        accepted += 1;
        this.stats.published += 1;
      } else {
        this.stats.dropped += 1;
      }
    }
    if (accepted < events.length && this.#logger.isLevelEnabled('warn')) {
      this.#rateLimitedWarn(
        { dropped: events.length - accepted },
        'domain event channel full: fast events dropped',
      );
    }
    return accepted;
  }

  /** Waits until every accepted event has been delivered, or `timeoutMs` passed. Returns true when idle. */
  async drain(timeoutMs: number): Promise<boolean> {
    if (this.#idle()) return true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const idle = new Promise<true>((resolve) => this.#idleWaiters.push(() => resolve(true)));
    const timeout = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), timeoutMs);
      timer.unref();
    });
    try {
      return await Promise.race([idle, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  #idle(): boolean {
    return (this.#channel?.depth ?? 0) === 0 && this.#dispatching === 0;
  }

  async #dispatchLoop(channel: BoundedChannel<DomainEvent>): Promise<void> {
    for (;;) {
      const event = await channel.receive();
      if (event === undefined) return;
      this.#dispatching += 1;
      try {
        await this.#deliver(event);
      } finally {
        this.#dispatching -= 1;
        if (this.#idle()) for (const w of this.#idleWaiters.splice(0)) w();
      }
    }
  }

  /** Calls every matching subscriber (concurrently, so one slow subscriber delays only this event). */
  async #deliver(event: DomainEvent): Promise<void> {
    const matching = [...this.#subscriptions].filter((s) => s.matches(event.name));
    if (matching.length === 0) {
      this.stats.unmatched += 1;
      return;
    }
    await Promise.all(
      matching.map(async (sub) => {
        try {
          await sub.handler(event);
          this.stats.delivered += 1;
        } catch (e) {
          this.stats.subscriberFailures += 1;
          this.#rateLimitedWarn(
            { err: coerceError(e), subscriber: sub.name, event: event.name, eventId: event.eventId },
            'domain event subscriber failed; the step is unaffected',
          );
        }
      }),
    );
  }

  #rateLimitedWarn(fields: Record<string, unknown>, message: string): void {
    const now = Date.now();
    if (now - this.#lastFailureLog < 1000) return;
    this.#lastFailureLog = now;
    this.#logger.warn(fields, message);
  }
}
