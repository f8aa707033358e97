/**
 * Health endpoints: liveness (the process answers), readiness (it can do useful work: database reachable,
 * schema current) and a detailed report for operators, plus the Prometheus scrape endpoint.
 */
import type { ChannelMonitor } from '../channels/index.js';
import { migrationsCurrent } from '../db/migrate.js';
import { EventLoopMonitor } from '../observability/event-loop.js';
import { poolAcquireStats } from '../db/pool-stats.js';
import { defineRoute, type ApiContext, type ApiRoute } from './route.js';
import { healthBody, liveBody, readyBody, type HealthBody, type ReadyBody } from './schemas.js';

export { EventLoopMonitor };

/** How long a health probe may wait for the database before calling it unreachable. */
const DB_CHECK_TIMEOUT_MS = 2_000;
/** Above this p99 event-loop delay the process is reported degraded: requests are queueing behind CPU work. */
const LOOP_DEGRADED_MS = 200;
/** Channel saturation at or above which the process is reported degraded. */
const CHANNEL_DEGRADED = 0.8;

interface Check {
  ok: boolean;
  message?: string;
}

/** Rejects when `promise` has not settled within `ms`. */
export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function reason(e: unknown): string {
  // Only the message: a health body is readable by monitoring systems and must not carry stacks.
  return e instanceof Error ? e.message : String(e);
}

async function checkDatabase(ctx: ApiContext): Promise<Check & { latencyMs: number | null }> {
  const started = performance.now();
  try {
    await withTimeout(ctx.pool.query('SELECT 1'), DB_CHECK_TIMEOUT_MS, 'database');
    return { ok: true, latencyMs: Math.round((performance.now() - started) * 100) / 100 };
  } catch (e) {
    return { ok: false, latencyMs: null, message: reason(e) };
  }
}

async function checkMigrations(ctx: ApiContext): Promise<Check> {
  try {
    const current = await withTimeout(migrationsCurrent(ctx.pool), DB_CHECK_TIMEOUT_MS, 'database');
    return current ? { ok: true } : { ok: false, message: 'database schema is behind: run `tasker migrate`' };
  } catch (e) {
    return { ok: false, message: reason(e) };
  }
}

/** The channels of a monitor as the health report shows them. */
export function channelHealth(monitor: ChannelMonitor | undefined): HealthBody['channels'] {
  return (monitor?.snapshot() ?? []).map((c) => ({
    name: c.name,
    capacity: c.capacity,
    depth: c.depth,
    high_water_mark: c.highWaterMark,
    saturation: c.saturation,
    dropped: c.dropped,
    blocked_sends: c.blockedSends,
    closed: c.closed,
  }));
}

/** The detailed health report and its overall verdict. */
export async function healthReport(ctx: ApiContext, loop: EventLoopMonitor): Promise<HealthBody> {
  const [database, migrations] = await Promise.all([checkDatabase(ctx), checkMigrations(ctx)]);
  const channels = channelHealth(ctx.channelMonitor);
  const { p50, p99 } = loop.percentiles();
  const acquire = poolAcquireStats(ctx.rawPool);
  const pool = {
    total: ctx.pool.totalCount,
    idle: ctx.pool.idleCount,
    waiting: ctx.pool.waitingCount,
    acquire_p50_ms: acquire?.p50Ms ?? null,
    acquire_p95_ms: acquire?.p95Ms ?? null,
    acquire_p99_ms: acquire?.p99Ms ?? null,
    slow_acquires: acquire?.slow ?? null,
  };
  const breakers = ctx.breaker
    ? [ctx.breaker.stats()].map((b) => ({ name: b.name, state: b.state, times_opened: b.timesOpened }))
    : [];
  const pressure = ctx.backpressure.verdict;
  const degradedReasons = ctx.degradationSources.flatMap((s) => s.degradedReasons());
  let status: HealthBody['status'] = 'healthy';
  if (!database.ok || !migrations.ok || breakers.some((b) => b.state === 'open')) status = 'unhealthy';
  else if (
    degradedReasons.length > 0 ||
    pressure.overloaded ||
    breakers.some((b) => b.state === 'half_open') ||
    p99 > LOOP_DEGRADED_MS ||
    pool.waiting > 0 ||
    channels.some((c) => c.saturation >= CHANNEL_DEGRADED || c.closed)
  ) {
    status = 'degraded';
  }
  return {
    status,
    degraded_reasons: degradedReasons,
    processor_id: ctx.processorId,
    database: {
      ok: database.ok,
      latency_ms: database.latencyMs,
      ...(database.message ? { message: database.message } : {}),
    },
    migrations,
    pool,
    channels,
    circuit_breakers: breakers,
    backpressure: {
      overloaded: pressure.overloaded,
      reason: pressure.reason,
      results_queue_depth: pressure.resultsQueueDepth,
    },
    event_loop: { delay_p50_ms: Math.round(p50 * 100) / 100, delay_p99_ms: Math.round(p99 * 100) / 100 },
    uptime_seconds: Math.round((Date.now() - ctx.startedAt) / 1000),
  };
}

/** The health and metrics routes. */
export function healthRoutes(ctx: ApiContext, loop: EventLoopMonitor): ApiRoute[] {
  return [
    defineRoute({
      method: 'GET',
      url: '/health/live',
      operationId: 'healthLive',
      summary: 'Liveness: the process is up and serving requests.',
      tag: 'health',
      permission: null,
      responses: [{ status: 200, description: 'Always, while the process runs.', schema: liveBody }],
      handle: () => Promise.resolve({ status: 'ok' as const }),
    }),
    defineRoute({
      method: 'GET',
      url: '/health/ready',
      operationId: 'healthReady',
      summary: 'Readiness: the database is reachable and its schema is current.',
      tag: 'health',
      permission: null,
      responses: [
        { status: 200, description: 'Ready to serve.', schema: readyBody },
        { status: 503, description: 'Not ready; `checks` says why.', schema: readyBody },
      ],
      async handle({ reply }) {
        const [database, migrations] = await Promise.all([checkDatabase(ctx), checkMigrations(ctx)]);
        const ready = database.ok && migrations.ok;
        const body: ReadyBody = {
          status: ready ? 'ready' : 'not_ready',
          checks: {
            database: database.message ? { ok: database.ok, message: database.message } : { ok: database.ok },
            migrations,
          },
        };
        reply.code(ready ? 200 : 503);
        return body;
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/health',
      operationId: 'health',
      summary: 'Detailed health: database, pool, channels and event-loop delay.',
      tag: 'health',
      permission: 'system:read',
      responses: [
        { status: 200, description: 'Healthy or degraded.', schema: healthBody },
        {
          status: 503,
          description: 'Unhealthy (database unreachable or schema behind).',
          schema: healthBody,
        },
      ],
      async handle({ reply }) {
        const report = await healthReport(ctx, loop);
        reply.code(report.status === 'unhealthy' ? 503 : 200);
        return report;
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/metrics',
      operationId: 'metrics',
      summary: 'Prometheus metrics (text exposition format).',
      tag: 'health',
      permission: 'system:read',
      responses: [
        {
          status: 200,
          description:
            'Node.js process metrics, HTTP request durations, queue, channel, breaker and pool gauges, event-loop ' +
            'delay, and task and step counters (see docs/operations.md).',
          contentType: 'text/plain; version=0.0.4',
        },
      ],
      async handle({ reply }) {
        const { contentType, body } = await ctx.metrics.render();
        reply.header('content-type', contentType);
        return body;
      },
    }),
  ];
}
