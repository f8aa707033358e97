import type { Logger } from 'pino';
import type { TaskerConfig } from '../config/index.js';
import type { Queryable } from '../db/pool.js';
import { coerceError } from '../errors.js';
import { acquireSharedListener, type SharedListenerHandle } from '../messaging/listener.js';
import { QueueClient } from '../messaging/queue.js';
import { childLogger, silentLogger } from '../observability/logger.js';
import { Pump } from '../runtime/pump.js';
import { WakeupSource } from '../runtime/wakeups.js';
import { domainEventsQueueName } from '../contract/names.js';
import { fromEventMessage, type DomainEvent, type DomainEventMessage } from './types.js';

/** Handles one durable event. Throwing (or rejecting) leaves the event to be delivered again. */
export type DurableEventHandler = (event: DomainEvent) => void | Promise<void>;

export interface DurableEventConsumerOptions {
  config: TaskerConfig;
  /** Database access (a pool, or a breaker-guarded pool). */
  db: Queryable;
  /** Namespace whose `domain_events_<namespace>` queue to consume. */
  namespace: string;
  handler: DurableEventHandler;
  logger?: Logger;
}

/** Counters of one consumer. */
export interface DurableConsumerStats {
  handled: number;
  failed: number;
  /** Events archived after `durable_max_deliveries` failed deliveries. */
  archived: number;
}

/**
 * Consumes a namespace's durable domain events: reads batches (each event invisible to other consumers while it
 * is handled), calls the handler, deletes what was handled. A failed event comes back after its visibility
 * timeout, so delivery is at least once; consumers should deduplicate by `eventId`. Several consumers of one
 * namespace share the work (each event goes to one of them); after `durable_max_deliveries` failures an event
 * is archived and logged instead of blocking the queue for ever.
 */
export class DurableEventConsumer {
  readonly stats: DurableConsumerStats = { handled: 0, failed: 0, archived: 0 };
  readonly queue: string;
  readonly #options: DurableEventConsumerOptions;
  readonly #queues: QueueClient;
  readonly #logger: Logger;
  readonly #pump: Pump;
  readonly #wakeups: WakeupSource;
  #listener: SharedListenerHandle | undefined;
  #started = false;

  constructor(options: DurableEventConsumerOptions) {
    this.#options = options;
    this.queue = domainEventsQueueName(options.namespace);
    this.#queues = new QueueClient(options.db);
    this.#logger = childLogger(options.logger ?? silentLogger(), {
      component: 'domain-event-consumer',
      queue: this.queue,
    });
    this.#pump = new Pump({
      name: `events:${this.queue}`,
      concurrency: 1,
      logger: this.#logger,
      batch: () => this.#batch(),
    });
    this.#wakeups = new WakeupSource(
      `domain_events.wakeups.${options.namespace}`,
      options.config.common.channels.listener_notifications,
      this.#pump,
      this.#logger,
    );
  }

  async start(): Promise<void> {
    if (this.#started) return;
    this.#started = true;
    await this.#queues.createQueue(this.queue);
    const { config } = this.#options;
    const q = config.common.queues;
    if (q.notifications_enabled) {
      this.#listener = await acquireSharedListener({
        url: config.common.database.url,
        logger: this.#logger,
        reconnectMinMs: q.listener_reconnect_min_ms,
        reconnectMaxMs: q.listener_reconnect_max_ms,
      });
    }
    await this.#wakeups.start({
      ...(this.#listener ? { listener: this.#listener.listener } : {}),
      queues: [this.queue],
      pollIntervalMs: config.common.domain_events.durable_poll_interval_ms,
    });
  }

  /** Stops reading; the batch being handled finishes first. */
  async stop(): Promise<void> {
    if (!this.#started) return;
    this.#started = false;
    await this.#wakeups.stop();
    await this.#pump.stop();
    await this.#listener?.release();
  }

  async #batch(): Promise<boolean> {
    const settings = this.#options.config.common.domain_events;
    const messages = await this.#queues.read<DomainEventMessage>(
      this.queue,
      settings.durable_visibility_timeout_seconds,
      settings.durable_batch_size,
    );
    const done: string[] = [];
    const dead: string[] = [];
    for (const m of messages) {
      try {
        await this.#options.handler(fromEventMessage(m.message));
        this.stats.handled += 1;
        done.push(m.msgId);
      } catch (e) {
        this.stats.failed += 1;
        const giveUp = m.readCount >= settings.durable_max_deliveries;
        if (giveUp) dead.push(m.msgId);
        this.#logger.warn(
          {
            err: coerceError(e),
            event: m.message.name,
            eventId: m.message.event_id,
            deliveries: m.readCount,
          },
          giveUp
            ? 'durable domain event handler failed for the last time; event archived'
            : 'durable domain event handler failed; the event will be delivered again',
        );
      }
    }
    if (done.length > 0) await this.#queues.delete(this.queue, done);
    if (dead.length > 0) {
      await this.#queues.archive(this.queue, dead);
      this.stats.archived += dead.length;
    }
    return messages.length === settings.durable_batch_size;
  }
}
