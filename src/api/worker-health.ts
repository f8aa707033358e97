/**
 * The health report of a worker-only process (`GET /health` of the worker web server): what the worker's
 * database, pools, channels, breaker, handlers and event loop look like, and the status they add up to.
 */
import type { Pool } from 'pg';
import type { ChannelMonitor } from '../channels/index.js';
import { poolAcquireStats } from '../db/pool-stats.js';
import type { EventLoopMonitor } from '../observability/event-loop.js';
import type { Worker } from '../worker/worker.js';
import { channelHealth, withTimeout } from './health.js';

/** How long the health check waits for the database before calling it unreachable. */
const DB_CHECK_TIMEOUT_MS = 2_000;
/** Above this p99 event-loop delay the worker is reported degraded: claims and heartbeats are running late. */
const LOOP_DEGRADED_MS = 200;
/** Channel saturation at or above which the worker is reported degraded. */
const CHANNEL_DEGRADED = 0.8;

/** `GET /health` of a worker process. */
export interface WorkerHealthBody {
  status: 'healthy' | 'degraded' | 'unhealthy';
  /** Why the worker is degraded beyond what the other fields show (failing writes, abandoned handlers). */
  degraded_reasons: string[];
  worker_id: string;
  namespaces: string[];
  database: { ok: boolean; latency_ms: number | null; message?: string };
  pools: {
    name: string;
    total: number;
    idle: number;
    waiting: number;
    acquire_p50_ms: number | null;
    acquire_p95_ms: number | null;
    acquire_p99_ms: number | null;
    slow_acquires: number | null;
  }[];
  channels: {
    name: string;
    capacity: number;
    depth: number;
    high_water_mark: number;
    saturation: number;
    dropped: number;
    blocked_sends: number;
    closed: boolean;
  }[];
  circuit_breakers: { name: string; state: string; times_opened: number }[];
  handlers: {
    running: number;
    in_flight: number;
    claimed: number;
    completed: number;
    failed: number;
    /** Abandoned handlers still running (they ignored their abort signal). */
    abandoned: number;
  };
  event_loop: { delay_p50_ms: number; delay_p99_ms: number };
  uptime_seconds: number;
}

/** What a worker's health report reads. */
export interface WorkerHealthSources {
  worker: Worker;
  monitor: ChannelMonitor;
  loop: EventLoopMonitor;
  /** When the server was created (`Date.now()`), for `uptime_seconds`. */
  startedAt: number;
}

const round2 = (v: number): number => Math.round(v * 100) / 100;

async function checkDatabase(pool: Pool): Promise<WorkerHealthBody['database']> {
  const started = performance.now();
  try {
    await withTimeout(pool.query('SELECT 1'), DB_CHECK_TIMEOUT_MS, 'database');
    return { ok: true, latency_ms: round2(performance.now() - started) };
  } catch (e) {
    return { ok: false, latency_ms: null, message: e instanceof Error ? e.message : String(e) };
  }
}

/** Returns the function that builds a worker's health report from the sources it reads (for `GET /health`). */
export function workerHealthReporter(sources: WorkerHealthSources): () => Promise<WorkerHealthBody> {
  const { worker, monitor, loop, startedAt } = sources;
  const [claimPool] = worker.pools;
  return async () => {
    const database = await checkDatabase(claimPool!.pool);
    const pools = worker.pools.map(({ name, pool }) => {
      const acquire = poolAcquireStats(pool);
      return {
        name,
        total: pool.totalCount,
        idle: pool.idleCount,
        waiting: pool.waitingCount,
        acquire_p50_ms: acquire?.p50Ms ?? null,
        acquire_p95_ms: acquire?.p95Ms ?? null,
        acquire_p99_ms: acquire?.p99Ms ?? null,
        slow_acquires: acquire?.slow ?? null,
      };
    });
    const channels = channelHealth(monitor);
    const b = worker.breaker.stats();
    const breakers = [{ name: b.name, state: b.state, times_opened: b.timesOpened }];
    const { p50, p99 } = loop.percentiles();
    const degradedReasons = worker.degradedReasons();
    let status: WorkerHealthBody['status'] = 'healthy';
    if (!database.ok || b.state === 'open') status = 'unhealthy';
    else if (
      degradedReasons.length > 0 ||
      b.state === 'half_open' ||
      p99 > LOOP_DEGRADED_MS ||
      pools.some((p) => p.waiting > 0) ||
      channels.some((c) => c.saturation >= CHANNEL_DEGRADED || c.closed)
    ) {
      status = 'degraded';
    }
    const s = worker.stats;
    return {
      status,
      degraded_reasons: degradedReasons,
      worker_id: worker.id,
      namespaces: [...worker.namespaces],
      database,
      pools,
      channels,
      circuit_breakers: breakers,
      handlers: {
        running: s.handlersRunning,
        in_flight: s.inFlight,
        claimed: s.claimed,
        completed: s.completed,
        failed: s.failed,
        abandoned: s.abandonedHandlers,
      },
      event_loop: { delay_p50_ms: round2(p50), delay_p99_ms: round2(p99) },
      uptime_seconds: Math.round((Date.now() - startedAt) / 1000),
    };
  };
}
