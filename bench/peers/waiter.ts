/**
 * Resolves waits for runs as a LISTEN channel announces them: each notification's payload names one or more
 * finished runs (the parser says which); an announcement that arrives before its wait is kept for it.
 */
import pg from 'pg';

export class NotificationWaiter {
  readonly #client: pg.Client;
  readonly #channel: string;
  readonly #waiting = new Map<string, () => void>();
  readonly #early = new Set<string>();

  constructor(url: string, channel: string, idsOf: (payload: string) => string[]) {
    this.#client = new pg.Client({ connectionString: url });
    this.#channel = channel;
    this.#client.on('notification', (n) => {
      for (const id of idsOf(n.payload ?? '')) {
        const resolve = this.#waiting.get(id);
        if (resolve) {
          this.#waiting.delete(id);
          resolve();
        } else this.#early.add(id);
      }
    });
  }

  async start(): Promise<void> {
    await this.#client.connect();
    await this.#client.query(`LISTEN ${this.#channel}`);
  }

  wait(id: string): Promise<void> {
    if (this.#early.delete(id)) return Promise.resolve();
    return new Promise((resolve) => this.#waiting.set(id, resolve));
  }

  end(): Promise<void> {
    return this.#client.end();
  }
}
