/**
 * The metrics and health endpoint of a worker-only process (`tasker worker`), which has no REST API: a small
 * `node:http` server with `/metrics`, `/health` and `/health/live`, built from the same pieces as the API's
 * (engine gauges, event-loop monitor, authenticator, error bodies).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { Authenticator, authorize } from '../api/auth.js';
import { ApiError, ApiErrorCode, toErrorResponse } from '../api/errors.js';
import { channelHealth, withTimeout } from '../api/health.js';
import { listenOrClose } from '../runtime/listen.js';
import { ChannelMonitor } from '../channels/index.js';
import type { TaskerConfig } from '../config/index.js';
import { poolAcquireStats } from '../db/pool-stats.js';
import type { Worker } from '../worker/worker.js';
import { registerEngineMetrics, registerPoolConnectionMetrics } from './engine-metrics.js';
import { EventLoopMonitor, registerEventLoopMetrics } from './event-loop.js';
import { childLogger, silentLogger } from './logger.js';

/** How long the health check waits for the database before calling it unreachable. */
const DB_CHECK_TIMEOUT_MS = 2_000;
/** Above this p99 event-loop delay the worker is reported degraded: claims and heartbeats are running late. */
const LOOP_DEGRADED_MS = 200;
/** Channel saturation at or above which the worker is reported degraded. */
const CHANNEL_DEGRADED = 0.8;
/** Error code of a request with a method other than GET (the API's Fastify router has its own). */
const METHOD_NOT_ALLOWED = 'METHOD_NOT_ALLOWED';

/** Options of {@link createWorkerWebServer}. */
export interface WorkerWebServerOptions {
  /** The worker to report on; start it first, so that its per-namespace channels exist. */
  worker: Worker;
  /** `worker.web` gives the address; `orchestration.api.auth` the credentials `/metrics` and `/health` take. */
  config: TaskerConfig;
  logger?: Logger;
  /** Channels to report; by default a monitor of the worker's channels, owned (and stopped) by the server. */
  channelMonitor?: ChannelMonitor;
}

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

/** A created (not yet listening) worker web server. */
export interface WorkerWebServer {
  /** The registry `/metrics` renders (process, worker, channel, breaker and pool metrics). */
  readonly registry: Registry;
  /** Starts listening on `worker.web.host`/`port` (port 0 = any free port). */
  listen(): Promise<{ url: string }>;
  /** The health report `/health` serves. */
  health(): Promise<WorkerHealthBody>;
  /** Stops listening, ends open connections and stops the samplers. Leaves the worker alone. */
  close(): Promise<void>;
}

const round2 = (v: number): number => Math.round(v * 100) / 100;

/** Creates the metrics and health server of a worker process. */
export async function createWorkerWebServer(options: WorkerWebServerOptions): Promise<WorkerWebServer> {
  const { worker, config } = options;
  const logger = childLogger(options.logger ?? silentLogger(), { component: 'worker-web' });
  const authenticator = await Authenticator.create(config.orchestration.api.auth);
  const ownsMonitor = !options.channelMonitor;
  const monitor = options.channelMonitor ?? new ChannelMonitor({ logger });
  if (ownsMonitor) {
    for (const channel of worker.channels) monitor.register(channel);
    monitor.start(10_000);
  }
  const loop = new EventLoopMonitor();
  const startedAt = Date.now();
  const [claimPool] = worker.pools;

  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  registerEventLoopMetrics(registry, loop);
  worker.metrics.registerOn(registry);
  worker.taskMetrics.registerOn(registry);
  // No database figures here: queue and task gauges are cluster-wide and come from the API process.
  registerEngineMetrics(registry, { pool: claimPool!.pool, channels: monitor, breaker: worker.breaker });
  registerPoolConnectionMetrics(registry, worker.pools);

  async function checkDatabase(): Promise<WorkerHealthBody['database']> {
    const started = performance.now();
    try {
      await withTimeout(claimPool!.pool.query('SELECT 1'), DB_CHECK_TIMEOUT_MS, 'database');
      return { ok: true, latency_ms: round2(performance.now() - started) };
    } catch (e) {
      return { ok: false, latency_ms: null, message: e instanceof Error ? e.message : String(e) };
    }
  }

  async function health(): Promise<WorkerHealthBody> {
    const database = await checkDatabase();
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
  }

  function send(res: ServerResponse, status: number, headers: Record<string, string>, body: string): void {
    res.writeHead(status, { 'cache-control': 'no-store', ...headers });
    res.end(body);
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    const known = path === '/metrics' || path === '/health' || path === '/health/live';
    if (!known) {
      throw new ApiError(404, ApiErrorCode.NotFound, `no route for ${req.method ?? 'GET'} ${path}`);
    }
    if (req.method !== 'GET') {
      throw new ApiError(405, METHOD_NOT_ALLOWED, `${path} only answers GET`, {
        headers: { allow: 'GET' },
      });
    }
    if (path === '/health/live') {
      send(res, 200, { 'content-type': 'application/json' }, JSON.stringify({ status: 'ok' }));
      return;
    }
    authorize(await authenticator.authenticate(req.headers), 'system:read');
    if (path === '/metrics') {
      send(res, 200, { 'content-type': registry.contentType }, await registry.metrics());
      return;
    }
    const report = await health();
    send(
      res,
      report.status === 'unhealthy' ? 503 : 200,
      { 'content-type': 'application/json' },
      JSON.stringify(report),
    );
  }

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      const r = toErrorResponse(e);
      if (r.unexpected) logger.error({ err: e, url: req.url }, 'worker web request failed');
      if (res.headersSent) {
        res.destroy();
        return;
      }
      send(res, r.status, { 'content-type': 'application/json', ...r.headers }, JSON.stringify(r.body));
    });
  });

  let closing: Promise<void> | undefined;
  return {
    registry,
    health,
    async listen() {
      const { host, port } = config.worker.web;
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          server.off('error', reject);
          resolve();
        });
      });
      const address = server.address() as AddressInfo;
      const shown = address.family === 'IPv6' ? `[${address.address}]` : address.address;
      const url = `http://${shown}:${address.port}`;
      logger.info({ url }, 'worker web server listening');
      return { url };
    },
    close() {
      closing ??= (async () => {
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          // Scrapers keep connections alive; end them rather than wait for their idle timeout.
          server.closeAllConnections();
        });
        loop.stop();
        if (ownsMonitor) monitor.stop();
      })();
      return closing;
    },
  };
}

/**
 * Creates and starts the worker web server when `worker.web.enabled`. Returns it with its URL, or undefined when
 * disabled.
 */
export async function startWorkerWebServer(
  options: WorkerWebServerOptions,
): Promise<{ server: WorkerWebServer; url: string } | undefined> {
  if (!options.config.worker.web.enabled) return undefined;
  return listenOrClose(await createWorkerWebServer(options));
}
