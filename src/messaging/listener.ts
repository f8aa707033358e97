import pg from 'pg';
import type { Logger } from 'pino';

/** Called for each notification on a channel, and once for every channel after a (re)connect. */
export type NotificationHandler = (channel: string, payload: string | undefined) => void;

export interface NotificationListenerOptions {
  url: string;
  logger: Logger;
  /** First reconnect delay; doubles per failed attempt up to `reconnectMaxMs`. */
  reconnectMinMs: number;
  reconnectMaxMs: number;
  applicationName?: string;
}

/**
 * One LISTEN connection per process, shared by every subscriber. When the connection drops it reconnects by
 * itself with exponential backoff, listens again, and wakes every subscriber, because notifications sent
 * while it was away are lost (pollers cover that gap too).
 */
export class NotificationListener {
  readonly #options: NotificationListenerOptions;
  readonly #handlers = new Map<string, Set<NotificationHandler>>();
  #client: pg.Client | undefined;
  #connecting: Promise<void> | undefined;
  #stopped = false;
  #reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  #failures = 0;
  #connects = 0;

  constructor(options: NotificationListenerOptions) {
    this.#options = options;
  }

  /** Number of successful connections so far (1 after start, +1 per reconnect). */
  get connectCount(): number {
    return this.#connects;
  }

  get connected(): boolean {
    return this.#client !== undefined;
  }

  /** Subscribes to a channel; returns an unsubscribe function. */
  async subscribe(channel: string, handler: NotificationHandler): Promise<() => void> {
    let set = this.#handlers.get(channel);
    const isNew = !set;
    if (!set) {
      set = new Set();
      this.#handlers.set(channel, set);
    }
    set.add(handler);
    if (isNew && this.#client) {
      await this.#client.query(`LISTEN ${pg.escapeIdentifier(channel)}`);
    }
    return () => {
      set.delete(handler);
    };
  }

  /** Connects and listens to every subscribed channel. Resolves once listening (or throws on first failure). */
  async start(): Promise<void> {
    this.#stopped = false;
    await this.#connect();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#reconnectTimer) clearTimeout(this.#reconnectTimer);
    const client = this.#client;
    this.#client = undefined;
    if (client) await client.end().catch(() => {});
  }

  #connect(): Promise<void> {
    this.#connecting ??= this.#doConnect().finally(() => {
      this.#connecting = undefined;
    });
    return this.#connecting;
  }

  async #doConnect(): Promise<void> {
    const client = new pg.Client({
      connectionString: this.#options.url,
      application_name: this.#options.applicationName ?? 'tasker-listener',
    });
    client.on('notification', (msg) => this.#dispatch(msg.channel, msg.payload));
    client.on('error', (err) => this.#lost(client, err));
    client.on('end', () => this.#lost(client, new Error('listener connection ended')));
    try {
      await client.connect();
      for (const channel of this.#handlers.keys()) {
        await client.query(`LISTEN ${pg.escapeIdentifier(channel)}`);
      }
    } catch (e) {
      client.removeAllListeners();
      client.on('error', () => {});
      await client.end().catch(() => {});
      throw e;
    }
    if (this.#stopped) {
      await client.end().catch(() => {});
      return;
    }
    this.#client = client;
    this.#failures = 0;
    this.#connects += 1;
    if (this.#connects > 1) {
      this.#options.logger.info({ reconnects: this.#connects - 1 }, 'notification listener reconnected');
    }
    // Wake everyone: anything sent while we were not listening was missed.
    for (const channel of this.#handlers.keys()) this.#dispatch(channel, undefined);
  }

  #dispatch(channel: string, payload: string | undefined): void {
    const set = this.#handlers.get(channel);
    if (!set) return;
    for (const handler of set) {
      try {
        handler(channel, payload);
      } catch (e) {
        this.#options.logger.error({ err: e, channel }, 'notification handler threw');
      }
    }
  }

  #lost(client: pg.Client, err: Error): void {
    if (this.#client !== client) return;
    this.#client = undefined;
    client.removeAllListeners('end');
    void client.end().catch(() => {});
    if (this.#stopped) return;
    this.#options.logger.warn(
      { err: err.message },
      'notification listener lost its connection; reconnecting',
    );
    this.#scheduleReconnect();
  }

  #scheduleReconnect(): void {
    if (this.#stopped || this.#reconnectTimer) return;
    const delay = Math.min(this.#options.reconnectMaxMs, this.#options.reconnectMinMs * 2 ** this.#failures);
    this.#failures += 1;
    this.#reconnectTimer = setTimeout(() => {
      this.#reconnectTimer = undefined;
      this.#connect().catch((e: unknown) => {
        this.#options.logger.warn(
          { err: e instanceof Error ? e.message : String(e) },
          'listener reconnect failed',
        );
        this.#scheduleReconnect();
      });
    }, delay);
    this.#reconnectTimer.unref();
  }
}

interface SharedEntry {
  listener: NotificationListener;
  refs: number;
  started: Promise<void>;
}

/** One listener per database URL per process, shared by every orchestrator and worker in it. */
const sharedListeners = new Map<string, SharedEntry>();

/** A reference to the process's shared listener; `release()` stops it when the last user lets go. */
export interface SharedListenerHandle {
  listener: NotificationListener;
  release(): Promise<void>;
}

/**
 * Returns the process-wide LISTEN connection for `options.url`, starting it on first use. Components that run
 * in the same process (an orchestrator and a worker in `tasker dev`, several workers) share one connection
 * instead of opening one each.
 */
export async function acquireSharedListener(
  options: NotificationListenerOptions,
): Promise<SharedListenerHandle> {
  let entry = sharedListeners.get(options.url);
  if (!entry) {
    const listener = new NotificationListener({
      ...options,
      applicationName: options.applicationName ?? 'tasker-listener',
    });
    entry = { listener, refs: 0, started: listener.start() };
    sharedListeners.set(options.url, entry);
    entry.started.catch(() => {
      if (sharedListeners.get(options.url) === entry) sharedListeners.delete(options.url);
    });
  }
  entry.refs += 1;
  const current = entry;
  try {
    await current.started;
  } catch (e) {
    current.refs -= 1;
    throw e;
  }
  let released = false;
  return {
    listener: current.listener,
    async release() {
      if (released) return;
      released = true;
      current.refs -= 1;
      if (current.refs === 0) {
        if (sharedListeners.get(options.url) === current) sharedListeners.delete(options.url);
        await current.listener.stop();
      }
    },
  };
}
