/**
 * Resolves waits for runs as they are announced: an announcement that arrives before its wait is kept for it.
 * {@link NotificationWaiter} hears the announcements on a LISTEN channel of its own.
 */
import pg from 'pg';

export class RunWaiter {
  readonly #waiting = new Map<string, () => void>();
  readonly #early = new Set<string>();

  /** Marks run `id` finished. */
  finished(id: string): void {
    const resolve = this.#waiting.get(id);
    if (resolve) {
      this.#waiting.delete(id);
      resolve();
    } else this.#early.add(id);
  }

  wait(id: string): Promise<void> {
    if (this.#early.delete(id)) return Promise.resolve();
    return new Promise((resolve) => this.#waiting.set(id, resolve));
  }
}

/** A {@link RunWaiter} fed by a LISTEN channel whose payloads name one or more finished runs (`idsOf` says which). */
export class NotificationWaiter extends RunWaiter {
  readonly #client: pg.Client;
  readonly #channel: string;

  constructor(url: string, channel: string, idsOf: (payload: string) => string[]) {
    super();
    this.#client = new pg.Client({ connectionString: url });
    this.#channel = channel;
    this.#client.on('notification', (n) => {
      for (const id of idsOf(n.payload ?? '')) this.finished(id);
    });
  }

  async start(): Promise<void> {
    await this.#client.connect();
    await this.#client.query(`LISTEN ${this.#channel}`);
  }

  end(): Promise<void> {
    return this.#client.end();
  }
}
