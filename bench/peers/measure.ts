/**
 * What the side-by-side benchmark measures besides wall time: the CPU the PostgreSQL server spends for one
 * database (its backends' user + system time, read from /proc), and the physical floor (one durable one-row
 * commit).
 */
import { readFile } from 'node:fs/promises';
import pg from 'pg';
import { percentile } from './shapes.js';

/** Clock ticks per second of /proc/<pid>/stat times (USER_HZ, 100 on Linux). */
const TICKS_PER_SECOND = 100;

async function ticksOf(pid: number): Promise<number | undefined> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    // Fields after the parenthesised command name; utime and stime are the 14th and 15th fields overall.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return undefined;
  }
}

/** CPU time of the server backends connected to one database, sampled before and after a workload. */
export class BackendCpu {
  readonly #admin: pg.Client;
  readonly #database: string;
  #before = new Map<number, number>();

  constructor(admin: pg.Client, database: string) {
    this.#admin = admin;
    this.#database = database;
  }

  async #sample(): Promise<Map<number, number>> {
    const { rows } = await this.#admin.query<{ pid: number }>(
      'SELECT pid FROM pg_stat_activity WHERE datname = $1',
      [this.#database],
    );
    const out = new Map<number, number>();
    for (const { pid } of rows) {
      const t = await ticksOf(pid);
      if (t !== undefined) out.set(pid, t);
    }
    return out;
  }

  async start(): Promise<void> {
    this.#before = await this.#sample();
  }

  /** Milliseconds of backend CPU since `start()` (backends that exited meanwhile are not counted). */
  async stopMs(): Promise<number> {
    const after = await this.#sample();
    let ticks = 0;
    for (const [pid, t] of after) ticks += t - (this.#before.get(pid) ?? 0);
    return (ticks * 1000) / TICKS_PER_SECOND;
  }
}

/** The physical floor: one durable one-row INSERT in autocommit (the cost of one commit's WAL flush). */
export class CommitFloor {
  readonly #client: pg.Client;
  #next = 0;

  constructor(url: string) {
    this.#client = new pg.Client({ connectionString: url });
  }

  async start(): Promise<void> {
    await this.#client.connect();
    await this.#client.query(
      'CREATE TABLE IF NOT EXISTS bench_floor (id bigserial PRIMARY KEY, v int NOT NULL)',
    );
    await this.#client.query('SET synchronous_commit = on');
  }

  /** One durable commit. */
  async commit(): Promise<void> {
    await this.#client.query('INSERT INTO bench_floor (v) VALUES ($1)', [this.#next++]);
  }

  /** p50 of `runs` commits back to back, after 20 warm-ups. */
  async backToBackP50(runs: number): Promise<number> {
    const samples: number[] = [];
    for (let i = 0; i < runs + 20; i++) {
      const t0 = performance.now();
      await this.commit();
      if (i >= 20) samples.push(performance.now() - t0);
    }
    samples.sort((a, b) => a - b);
    return percentile(samples, 50);
  }

  end(): Promise<void> {
    return this.#client.end();
  }
}
