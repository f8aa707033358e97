/**
 * The metrics and health endpoint of a worker-only process (`tasker worker`), which has no REST API: a small
 * `node:http` server with `/metrics`, `/health` and `/health/live`, built from the same pieces as the API's
 * (engine gauges, event-loop monitor, authenticator, error bodies).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { listenOrClose } from '../runtime/listen.js';
import { ChannelMonitor } from '../channels/index.js';
import type { TaskerConfig } from '../config/index.js';
import { registerEngineMetrics, registerPoolConnectionMetrics } from '../observability/engine-metrics.js';
import { EventLoopMonitor, registerEventLoopMetrics } from '../observability/event-loop.js';
import { childLogger, silentLogger } from '../observability/logger.js';
import type { Worker } from '../worker/worker.js';
import { Authenticator, authorize } from './auth.js';
import { ApiError, ApiErrorCode, toErrorResponse } from './errors.js';
import { workerHealthReporter, type WorkerHealthBody } from './worker-health.js';

export type { WorkerHealthBody } from './worker-health.js';

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

/** The registry `/metrics` renders: process, event-loop, worker, channel, breaker and pool metrics. */
function workerRegistry(worker: Worker, monitor: ChannelMonitor, loop: EventLoopMonitor): Registry {
  const [claimPool] = worker.pools;
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  registerEventLoopMetrics(registry, loop);
  worker.metrics.registerOn(registry);
  worker.taskMetrics.registerOn(registry);
  // No database figures here: queue and task gauges are cluster-wide and come from the API process.
  registerEngineMetrics(registry, { pool: claimPool!.pool, channels: monitor, breaker: worker.breaker });
  registerPoolConnectionMetrics(registry, worker.pools);
  return registry;
}

function send(res: ServerResponse, status: number, headers: Record<string, string>, body: string): void {
  res.writeHead(status, { 'cache-control': 'no-store', ...headers });
  res.end(body);
}

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

  const registry = workerRegistry(worker, monitor, loop);

  const health = workerHealthReporter({ worker, monitor, loop, startedAt: Date.now() });

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
