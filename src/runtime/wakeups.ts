import type { Logger } from 'pino';
import { channelFromConfig, type ChannelSettings } from '../channels/index.js';
import type { NotificationListener } from '../messaging/listener.js';
import { queueChannel } from '../contract/names.js';
import type { Pump } from './pump.js';

/**
 * Feeds a pump from two sources: notifications on a queue's channel (push) and a poll timer (the fallback for
 * lost notifications, and the only source when notifications are disabled). Wake-ups pass through a bounded
 * channel; a wake-up only means "look again", so the configured drop policy loses nothing.
 */
export class WakeupSource {
  readonly #channel;
  readonly #pump: Pump;
  #timer: ReturnType<typeof setInterval> | undefined;
  #unsubscribers: (() => void)[] = [];
  #loop: Promise<void> | undefined;

  constructor(name: string, settings: Readonly<ChannelSettings>, pump: Pump, _logger: Logger) {
    this.#channel = channelFromConfig<true>(name, settings);
    this.#pump = pump;
  }

  get channel(): ReturnType<typeof channelFromConfig<true>> {
    return this.#channel;
  }

  async start(options: {
    listener?: NotificationListener;
    queues: readonly string[];
    pollIntervalMs: number;
  }): Promise<void> {
    this.#loop = (async () => {
      for await (const _ of this.#channel) this.#pump.wake();
    })();
    if (options.listener) {
      for (const q of options.queues) {
        this.#unsubscribers.push(await options.listener.subscribe(queueChannel(q), () => this.wake()));
      }
    }
    this.#timer = setInterval(() => this.wake(), options.pollIntervalMs);
    this.#timer.unref();
    this.wake();
  }

  wake(): void {
    this.#channel.trySend(true);
  }

  async stop(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    for (const u of this.#unsubscribers) u();
    this.#channel.close();
    await this.#loop;
  }
}
