/**
 * The REST API server: the context routes share, the route table and its OpenAPI document, metrics, and
 * graceful shutdown of event streams. The Fastify wiring (parsers, hooks, error bodies) is in `fastify-app.ts`.
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import type pg from 'pg';
import type { Logger } from 'pino';
import type { ChannelMonitor } from '../channels/index.js';
import type { TaskerConfig } from '../config/index.js';
import { childLogger, silentLogger } from '../observability/logger.js';
import { Authenticator } from './auth.js';
import { BackpressureEvaluator } from './backpressure.js';
import { createFastifyApp, installErrorHandlers, installRequestHooks, mountRoutes } from './fastify-app.js';
import { registerEngineMetrics } from '../observability/engine-metrics.js';
import { registerEventLoopMetrics } from '../observability/event-loop.js';
import type { MetricSet } from '../observability/metric-set.js';
import { TaskMetrics } from '../observability/task-metrics.js';
import { EventLoopMonitor, healthRoutes } from './health.js';
import type { DatabaseBreaker } from '../resilience/breaker.js';
import { ApiMetrics } from './metrics.js';
import { buildOpenApi, type OpenApiDocument } from './openapi.js';
import { defineRoute, type ApiContext, type ApiRoute, type DegradationSource } from './route.js';
import { bulkRoutes } from './routes/bulk.js';
import { dashboardRoutes } from './routes/dashboard.js';
import { dlqRoutes } from './routes/dlq.js';
import { eventRoutes, type EventStreamOptions } from './routes/events.js';
import { stepRoutes } from './routes/steps.js';
import { taskRoutes } from './routes/tasks.js';
import { templateRoutes } from './routes/templates.js';
import { TaskEventHub } from './task-events.js';
import { DEFAULT_UI_ROOT, mountUi } from './ui.js';

/** Version reported in the OpenAPI document: the version of the wire format, not of the package. */
export const API_VERSION = '1.0.0';

/** Options of {@link createApiServer}. */
export interface ApiServerOptions {
  config: TaskerConfig;
  /** The pool routes query; owned by the caller (the server never ends it). */
  pool: pg.Pool;
  logger?: Logger;
  /** Recorded as `processor` in audit rows written through the API. */
  processorId?: string;
  /** Channels reported by `GET /health`. */
  channelMonitor?: ChannelMonitor;
  /**
   * The process's database breaker: route queries go through it (an open breaker answers 503 at once) and
   * `GET /health` reports it.
   */
  breaker?: DatabaseBreaker;
  /** Tuning of `GET /v1/tasks/{task_uuid}/events` (tests shorten the intervals). */
  eventStreams?: EventStreamOptions;
  /**
   * Task counters of the process (`tasker_tasks_*_total`): pass the orchestrator's (`orchestrator.metrics`)
   * so tasks created through the API and the orchestrator's outcome counts share one set of series. When
   * omitted the server keeps its own, counting only the tasks it creates.
   */
  taskMetrics?: TaskMetrics;
  /** More metrics of the process served on `/metrics`, e.g. `worker.metrics` when a worker runs here too. */
  metricSets?: readonly MetricSet[];
  /**
   * The engine components of the process (its orchestrator, and its worker when one runs here): `/health` is
   * degraded, with their reasons, while one of them says it is.
   */
  degradationSources?: readonly DegradationSource[];
  /**
   * The directory the dashboard is served from at `/ui` (when `orchestration.api.ui.enabled`): the package's
   * `dist/ui` by default; tests point it at a directory of their own.
   */
  uiRoot?: string;
}

/** Whether the dashboard is served at `/ui`: yes, not built (`/ui` answers 404 saying so), or switched off. */
export type DashboardStatus = 'served' | 'not_built' | 'disabled';

/** A created (not yet listening) API server. */
export interface ApiServer {
  /** The Fastify instance; `app.inject()` serves requests without a socket. */
  readonly app: FastifyInstance;
  /** Every route the server serves, as data. */
  readonly routes: readonly ApiRoute[];
  /** The OpenAPI document served at `/openapi.json`. */
  readonly openapi: OpenApiDocument;
  /** Whether the dashboard is served at `/ui`. */
  readonly dashboard: DashboardStatus;
  /** Starts listening on `orchestration.api.host`/`port` (port 0 = any free port). */
  listen(): Promise<{ url: string }>;
  /** Ends open event streams, stops accepting requests and waits for in-flight ones. Leaves the pool open. */
  close(): Promise<void>;
}

function defaultProcessorId(): string {
  return `api-${hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`;
}

/**
 * Creates the API server. Resolves once every route is registered and configured keys are loaded (a bad
 * RS256 key fails here, not on the first request).
 */
export async function createApiServer(options: ApiServerOptions): Promise<ApiServer> {
  const apiConfig = options.config.orchestration.api;
  const logger = childLogger(options.logger ?? silentLogger(), { component: 'api' });
  const authenticator = await Authenticator.create(apiConfig.auth);
  const metrics = new ApiMetrics(options.pool);
  const loop = new EventLoopMonitor();
  const events = new TaskEventHub(options.config, logger);
  const shutdown = new AbortController();
  const routePool = options.breaker ? options.breaker.guardPool(options.pool) : options.pool;
  const backpressure = new BackpressureEvaluator({
    settings: options.config.orchestration.backpressure,
    db: routePool,
    breaker: options.breaker,
    channels: options.channelMonitor,
    logger,
  });
  backpressure.start();
  const ctx: ApiContext = {
    config: options.config,
    pool: routePool,
    rawPool: options.pool,
    breaker: options.breaker,
    backpressure,
    logger,
    processorId: options.processorId ?? defaultProcessorId(),
    channelMonitor: options.channelMonitor,
    metrics,
    events,
    startedAt: Date.now(),
    degradationSources: options.degradationSources ?? [],
  };

  registerEngineMetrics(metrics.registry, {
    db: routePool,
    pool: options.pool,
    channels: options.channelMonitor,
    breaker: options.breaker,
  });
  registerEventLoopMetrics(metrics.registry, loop);
  const taskMetrics = options.taskMetrics ?? new TaskMetrics();
  for (const set of [taskMetrics, ...(options.metricSets ?? [])]) set.registerOn(metrics.registry);

  const routes: ApiRoute[] = [
    ...taskRoutes(ctx),
    ...bulkRoutes(ctx),
    ...eventRoutes(ctx, shutdown.signal, options.eventStreams),
    ...stepRoutes(ctx),
    ...templateRoutes(ctx),
    ...dlqRoutes(ctx),
    ...dashboardRoutes(ctx),
    ...healthRoutes(ctx, loop),
  ];
  const openapiRoute = defineRoute({
    method: 'GET',
    url: '/openapi.json',
    operationId: 'openapi',
    summary: 'This OpenAPI 3.1 document.',
    tag: 'meta',
    permission: 'authenticated',
    responses: [{ status: 200, description: 'The OpenAPI document.', contentType: 'application/json' }],
    handle: () => Promise.resolve(openapi),
  });
  routes.push(openapiRoute);
  const openapi = buildOpenApi(routes, API_VERSION);

  const app = createFastifyApp(apiConfig, logger);
  const principals = installRequestHooks(app, { authenticator, metrics, taskMetrics, logger });
  installErrorHandlers(app, logger);
  mountRoutes(app, routes, principals);
  let dashboard: DashboardStatus = 'disabled';
  if (apiConfig.ui.enabled) {
    const root = options.uiRoot ?? DEFAULT_UI_ROOT;
    dashboard = (await mountUi(app, root)) ? 'served' : 'not_built';
    if (dashboard === 'not_built') {
      logger.warn({ root }, 'the dashboard is not built (run `npm run build`); /ui answers 404');
    }
  }

  await app.ready();

  let closing: Promise<void> | undefined;
  return {
    app,
    routes,
    openapi,
    dashboard,
    async listen() {
      await app.listen({ host: apiConfig.host, port: apiConfig.port });
      const address = app.server.address() as AddressInfo;
      const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
      const url = `http://${host}:${address.port}`;
      logger.info({ url }, 'API listening');
      return { url };
    },
    close() {
      closing ??= (async () => {
        // End event streams first: Fastify waits for open connections, and streams never end by themselves.
        shutdown.abort();
        backpressure.stop();
        await app.close();
        await events.close();
        loop.stop();
      })();
      return closing;
    },
  };
}
