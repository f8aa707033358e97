/**
 * The engine's Prometheus gauges, all read at scrape time: cluster-wide queue, task and dead-letter figures from
 * the database, and each process's channels, breaker and pools.
 */
import type pg from 'pg';
import { Gauge, type Registry } from 'prom-client';
import type { ChannelMonitor } from '../channels/index.js';
import { poolAcquireStats } from '../db/pool-stats.js';
import type { Queryable } from '../db/pool.js';
import { queryRows } from '../db/query.js';
import type { DatabaseBreaker } from '../resilience/breaker.js';

/** What {@link registerEngineMetrics} reads at scrape time. */
export interface EngineMetricSources {
  /** The database for cluster-wide figures; left out by worker processes. */
  db?: Queryable | undefined;
  pool: pg.Pool;
  channels?: ChannelMonitor | undefined;
  breaker?: DatabaseBreaker | undefined;
}

interface EngineFigures {
  queues: { queue: string; length: number; visible: number; oldest_age_seconds: number }[];
  active_tasks: Record<string, number>;
  dlq_pending: number;
}

const BREAKER_STATE = { closed: 0, half_open: 1, open: 2 } as const;

/**
 * Registers the engine's gauges on `registry`, all read at scrape time (never stale, nothing to update on the
 * hot path): queue depth and oldest-message age per queue, unfinished tasks by state, open dead-letter
 * entries (one SQL call, `tasker.engine_metrics()`), channel depth/saturation/drops, breaker state and pool
 * acquire latency.
 *
 * Without `db` the database-wide figures (queues, active tasks, DLQ) are left out: a worker process exposes only
 * its own channels, breaker and pool, so that cluster-wide gauges come from one kind of process and are not
 * multiplied by the number of workers.
 */
export function registerEngineMetrics(registry: Registry, sources: EngineMetricSources): void {
  const registers = [registry];
  if (sources.db) registerDatabaseGauges(registers, sources.db);
  registerProcessGauges(registers, sources);
}

/**
 * The cluster-wide gauges, from one `tasker.engine_metrics()` call per scrape shared by all of them (a failed
 * read leaves them empty rather than failing the scrape).
 */
function registerDatabaseGauges(registers: Registry[], db: Queryable): void {
  // One database read per scrape, shared by the gauges that need it.
  let pending: Promise<EngineFigures | undefined> | undefined;
  const figures = (): Promise<EngineFigures | undefined> => {
    pending ??= queryRows<{ m: EngineFigures }>(db, {
      name: 'tasker_engine_metrics',
      text: 'SELECT tasker.engine_metrics() AS m',
    })
      .then((rows) => rows[0]?.m)
      .catch(() => undefined)
      .finally(() => setImmediate(() => (pending = undefined)));
    return pending;
  };
  new Gauge({
    name: 'tasker_queue_messages',
    help: 'Messages in each queue: all of them, and those visible (ready to be read).',
    labelNames: ['queue', 'visibility'],
    registers,
    async collect() {
      this.reset();
      for (const q of (await figures())?.queues ?? []) {
        this.set({ queue: q.queue, visibility: 'all' }, Number(q.length));
        this.set({ queue: q.queue, visibility: 'visible' }, Number(q.visible));
      }
    },
  });
  new Gauge({
    name: 'tasker_queue_oldest_message_age_seconds',
    help: 'Age of the oldest message in each queue (0 when empty).',
    labelNames: ['queue'],
    registers,
    async collect() {
      this.reset();
      for (const q of (await figures())?.queues ?? []) {
        this.set({ queue: q.queue }, Number(q.oldest_age_seconds));
      }
    },
  });
  new Gauge({
    name: 'tasker_tasks_active',
    help: 'Unfinished tasks by state.',
    labelNames: ['state'],
    registers,
    async collect() {
      this.reset();
      for (const [state, n] of Object.entries((await figures())?.active_tasks ?? {})) {
        this.set({ state }, Number(n));
      }
    },
  });
  new Gauge({
    name: 'tasker_dlq_pending_entries',
    help: 'Dead-letter entries waiting for an operator.',
    registers,
    async collect() {
      const f = await figures();
      if (f) this.set(Number(f.dlq_pending));
    },
  });
}

/** The process's own gauges: its channels, its breaker and its pool's acquire latency. */
function registerProcessGauges(registers: Registry[], sources: EngineMetricSources): void {
  new Gauge({
    name: 'tasker_channel_saturation',
    help: 'Fullness of each in-process channel, 0..1.',
    labelNames: ['channel'],
    registers,
    collect() {
      for (const c of sources.channels?.snapshot() ?? []) this.set({ channel: c.name }, c.saturation);
    },
  });
  new Gauge({
    name: 'tasker_channel_depth',
    help: 'Items buffered in each in-process channel.',
    labelNames: ['channel'],
    registers,
    collect() {
      for (const c of sources.channels?.snapshot() ?? []) this.set({ channel: c.name }, c.depth);
    },
  });
  new Gauge({
    name: 'tasker_channel_dropped',
    help: 'Items each in-process channel has dropped since start (by its overflow policy).',
    labelNames: ['channel'],
    registers,
    collect() {
      for (const c of sources.channels?.snapshot() ?? []) this.set({ channel: c.name }, c.dropped);
    },
  });
  new Gauge({
    name: 'tasker_circuit_breaker_state',
    help: 'State of each circuit breaker: 0 closed, 1 half-open, 2 open.',
    labelNames: ['breaker'],
    registers,
    collect() {
      const b = sources.breaker?.stats();
      if (b) this.set({ breaker: b.name }, BREAKER_STATE[b.state]);
    },
  });
  new Gauge({
    name: 'tasker_circuit_breaker_opened',
    help: 'How often each circuit breaker has opened since start.',
    labelNames: ['breaker'],
    registers,
    collect() {
      const b = sources.breaker?.stats();
      if (b) this.set({ breaker: b.name }, b.timesOpened);
    },
  });
  new Gauge({
    name: 'tasker_db_pool_acquire_seconds',
    help: 'Time to get a connection from the pool: p50, p95 and p99 over the latest acquisitions.',
    labelNames: ['quantile'],
    registers,
    collect() {
      const s = poolAcquireStats(sources.pool);
      if (!s) return;
      this.set({ quantile: '0.5' }, s.p50Ms / 1000);
      this.set({ quantile: '0.95' }, s.p95Ms / 1000);
      this.set({ quantile: '0.99' }, s.p99Ms / 1000);
    },
  });
}

/**
 * Registers `tasker_db_pool_connections{pool,state}` on `registry`: open, idle and waiting connections of each
 * named pool, read at scrape time (for processes with several pools, such as a worker's claim and completion
 * pools).
 */
export function registerPoolConnectionMetrics(
  registry: Registry,
  pools: readonly { name: string; pool: pg.Pool }[],
): void {
  new Gauge({
    name: 'tasker_db_pool_connections',
    help: 'Connections of each database pool of this process: total open, idle, and requests waiting for one.',
    labelNames: ['pool', 'state'],
    registers: [registry],
    collect() {
      for (const { name, pool } of pools) {
        this.set({ pool: name, state: 'total' }, pool.totalCount);
        this.set({ pool: name, state: 'idle' }, pool.idleCount);
        this.set({ pool: name, state: 'waiting' }, pool.waitingCount);
      }
    },
  });
}
