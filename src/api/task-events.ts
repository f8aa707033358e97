/**
 * Wake-ups for task event streams. One LISTEN subscription (on the process's shared listener) serves every
 * open stream of a server; a notification names the tasks that changed and wakes only their streams.
 */
import type { Logger } from 'pino';
import type { TaskerConfig } from '../config/index.js';
import { acquireSharedListener, type SharedListenerHandle } from '../messaging/listener.js';
import { CHANNELS } from '../contract/names.js';

/** Routes task-change notifications to the streams watching those tasks. */
export class TaskEventHub {
  readonly #config: TaskerConfig;
  readonly #logger: Logger;
  readonly #watchers = new Map<string, Set<() => void>>();
  #starting: Promise<void> | undefined;
  #handle: SharedListenerHandle | undefined;
  #unsubscribe: (() => void) | undefined;
  #closed = false;

  constructor(config: TaskerConfig, logger: Logger) {
    this.#config = config;
    this.#logger = logger;
  }

  /**
   * Calls `wake` whenever the task may have new transitions (and after a listener reconnect, when
   * notifications may have been lost). Returns a function that stops watching. Streams poll as well, so a
   * listener that cannot connect only makes them slower, never wrong.
   */
  async watch(taskUuid: string, wake: () => void): Promise<() => void> {
    const key = taskUuid.toLowerCase();
    let set = this.#watchers.get(key);
    if (!set) {
      set = new Set();
      this.#watchers.set(key, set);
    }
    set.add(wake);
    await this.#ensureListening();
    return () => {
      set.delete(wake);
      if (set.size === 0 && this.#watchers.get(key) === set) this.#watchers.delete(key);
    };
  }

  /** Number of streams currently watching (for tests and health output). */
  get watcherCount(): number {
    let n = 0;
    for (const set of this.#watchers.values()) n += set.size;
    return n;
  }

  /** Stops listening. Watchers stay registered but will not be woken by notifications any more. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#starting?.catch(() => {});
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
    const handle = this.#handle;
    this.#handle = undefined;
    await handle?.release();
  }

  #ensureListening(): Promise<void> {
    const queues = this.#config.common.queues;
    if (this.#closed || !queues.notifications_enabled) return Promise.resolve();
    this.#starting ??= (async () => {
      try {
        const handle = await acquireSharedListener({
          url: this.#config.common.database.url,
          logger: this.#logger,
          reconnectMinMs: queues.listener_reconnect_min_ms,
          reconnectMaxMs: queues.listener_reconnect_max_ms,
        });
        if (this.#closed) {
          await handle.release();
          return;
        }
        this.#handle = handle;
        this.#unsubscribe = await handle.listener.subscribe(CHANNELS.TaskEvents, (_channel, payload) =>
          this.#dispatch(payload),
        );
      } catch (e) {
        // Streams keep working on their safety poll; try LISTEN again with the next stream.
        this.#starting = undefined;
        this.#logger.warn({ err: e }, 'task event streams cannot LISTEN; falling back to polling');
      }
    })();
    return this.#starting;
  }

  #dispatch(payload: string | undefined): void {
    if (payload === undefined || payload === '') {
      // Sent after a reconnect: anything may have changed while we were away.
      for (const set of this.#watchers.values()) for (const wake of set) wake();
      return;
    }
    for (const raw of payload.split(',')) {
      const set = this.#watchers.get(raw.trim().toLowerCase());
      if (set) for (const wake of set) wake();
    }
  }
}
