/**
 * The REST API server: Fastify wired to the route table, with authentication, uniform error bodies,
 * metrics and graceful shutdown of event streams.
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { AddressInfo } from 'node:net';
import Fastify, {
  LogController,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
} from 'fastify';
import type pg from 'pg';
import type { Logger } from 'pino';
import type { z } from 'zod';
import type { ChannelMonitor } from '../channels/index.js';
import type { TaskerConfig } from '../config/index.js';
import { childLogger, silentLogger } from '../observability/logger.js';
import { ANONYMOUS, authorize, Authenticator, type Principal } from './auth.js';
import { ApiError, ApiErrorCode, toErrorResponse, validationError } from './errors.js';
import { BackpressureEvaluator } from './backpressure.js';
import { parseJsonBody } from './json-body.js';
import { registerEngineMetrics } from '../observability/engine-metrics.js';
import { registerEventLoopMetrics } from '../observability/event-loop.js';
import type { MetricSet } from '../observability/metric-set.js';
import { TaskMetrics } from '../observability/task-metrics.js';
import { EventLoopMonitor, healthRoutes } from './health.js';
import type { DatabaseBreaker } from '../resilience/breaker.js';
import { ApiMetrics } from './metrics.js';
import { buildOpenApi, type OpenApiDocument } from './openapi.js';
import { defineRoute, type ApiContext, type ApiRoute, type DegradationSource } from './route.js';
import { dlqRoutes } from './routes/dlq.js';
import { eventRoutes, type EventStreamOptions } from './routes/events.js';
import { stepRoutes } from './routes/steps.js';
import { taskRoutes } from './routes/tasks.js';
import { templateRoutes } from './routes/templates.js';
import { TaskEventHub } from './task-events.js';

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
}

/** A created (not yet listening) API server. */
export interface ApiServer {
  /** The Fastify instance; `app.inject()` serves requests without a socket. */
  readonly app: FastifyInstance;
  /** Every route the server serves, as data. */
  readonly routes: readonly ApiRoute[];
  /** The OpenAPI document served at `/openapi.json`. */
  readonly openapi: OpenApiDocument;
  /** Starts listening on `orchestration.api.host`/`port` (port 0 = any free port). */
  listen(): Promise<{ url: string }>;
  /** Ends open event streams, stops accepting requests and waits for in-flight ones. Leaves the pool open. */
  close(): Promise<void>;
}

const JSON_ONLY = 'this endpoint takes application/json';

/**
 * Finds a NUL character in any string or key of a parsed input. PostgreSQL text and jsonb cannot store NUL, so
 * such input would otherwise fail in the database as a 500. Iterative: request bodies may nest deeply.
 */
function findNul(root: unknown): string | undefined {
  const stack: [unknown, string][] = [[root, '']];
  while (stack.length > 0) {
    const [value, path] = stack.pop()!;
    if (typeof value === 'string') {
      if (value.includes('\u0000')) return path;
    } else if (Array.isArray(value)) {
      for (let i = 0; i < value.length; i++) stack.push([value[i], `${path}[${i}]`]);
    } else if (value !== null && typeof value === 'object') {
      for (const [key, child] of Object.entries(value)) {
        const childPath = path ? `${path}.${key}` : key;
        if (key.includes('\u0000')) return childPath;
        stack.push([child, childPath]);
      }
    }
  }
  return undefined;
}

function parseInput<T>(schema: z.ZodType<T>, value: unknown, where: 'body' | 'query' | 'path'): T {
  const nulAt = findNul(value);
  if (nulAt !== undefined) {
    throw validationError(where, [
      {
        code: 'custom',
        path: nulAt ? [nulAt] : [],
        message: 'must not contain NUL (\\u0000) characters',
        input: value,
      },
    ]);
  }
  const result = schema.safeParse(value);
  if (!result.success) throw validationError(where, result.error.issues);
  return result.data;
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
    ...eventRoutes(ctx, shutdown.signal, options.eventStreams),
    ...stepRoutes(ctx),
    ...templateRoutes(ctx),
    ...dlqRoutes(ctx),
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

  const app = Fastify({
    loggerInstance: logger,
    // Per-request logs at info would flood production logs; onResponse logs at debug instead.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: apiConfig.body_limit_bytes,
    ...(apiConfig.request_timeout_ms > 0
      ? { handlerTimeout: apiConfig.request_timeout_ms, requestTimeout: apiConfig.request_timeout_ms }
      : {}),
    genReqId: () => randomUUID(),
    return503OnClosing: true,
  }) as unknown as FastifyInstance;

  // JSON: our parser accepts every object as given and enforces the depth limit (see json-body.ts).
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => {
    try {
      done(null, parseJsonBody(body as string, apiConfig.max_json_depth));
    } catch (e) {
      done(e as Error, undefined);
    }
  });
  // Text bodies are template YAML.
  app.removeContentTypeParser('text/plain');
  app.addContentTypeParser(
    ['text/plain', 'text/yaml', 'application/yaml', 'application/x-yaml'],
    { parseAs: 'string' },
    (_request, body, done) => done(null, body),
  );

  const principals = new WeakMap<FastifyRequest, Principal>();
  const routeOf = (request: FastifyRequest): ApiRoute | undefined =>
    (request.routeOptions.config as { apiRoute?: ApiRoute }).apiRoute;

  app.addHook('onRequest', async (request: FastifyRequest, reply: FastifyReply) => {
    reply.header('x-request-id', request.id);
    const route = routeOf(request);
    // Unknown routes fall through to the 404 handler; open routes need no credentials.
    if (!route || route.permission === null) {
      principals.set(request, ANONYMOUS);
      return;
    }
    const principal = await authenticator.authenticate(request.headers);
    if (route.permission !== 'authenticated') authorize(principal, route.permission);
    principals.set(request, principal);
  });

  app.addHook('onResponse', async (request: FastifyRequest, reply: FastifyReply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    metrics.observeRequest(request.method, route, reply.statusCode, reply.elapsedTime / 1000);
    // 201 = a new task (an idempotent repeat answers 200); the body passed validation to get here.
    if (reply.statusCode === 201 && routeOf(request)?.operationId === 'createTask') {
      const body = request.body as { namespace: string; name: string };
      taskMetrics.taskCreated(body.namespace, body.name);
    }
    if (logger.isLevelEnabled('debug')) {
      logger.debug(
        { reqId: request.id, method: request.method, route, status: reply.statusCode, ms: reply.elapsedTime },
        'request served',
      );
    }
  });

  app.setErrorHandler((error: unknown, request: FastifyRequest, reply: FastifyReply) => {
    const code = (error as { code?: unknown }).code;
    const res =
      code === 'FST_ERR_HANDLER_TIMEOUT'
        ? toErrorResponse(
            new ApiError(503, ApiErrorCode.Timeout, 'the request took too long; try again later', {
              headers: { 'retry-after': '5' },
            }),
          )
        : toErrorResponse(error);
    if (res.unexpected) {
      logger.error({ err: error, reqId: request.id, route: request.routeOptions.url }, 'request failed');
    }
    if (reply.sent) return;
    void reply.code(res.status).headers(res.headers).send(res.body);
  });

  app.setNotFoundHandler((request: FastifyRequest, reply: FastifyReply) => {
    void reply.code(404).send({
      error: {
        code: ApiErrorCode.NotFound,
        message: `no route for ${request.method} ${request.url.split('?')[0]}`,
      },
    });
  });

  for (const route of routes) {
    app.route({
      method: route.method,
      url: route.url,
      config: { apiRoute: route },
      handler: async (request: FastifyRequest, reply: FastifyReply) => {
        const params = route.params ? parseInput(route.params, request.params, 'path') : undefined;
        const query = route.query ? parseInput(route.query, request.query ?? {}, 'query') : undefined;
        let body: unknown;
        if (route.body && request.body === undefined) {
          throw new ApiError(400, ApiErrorCode.ValidationFailed, 'a request body is required', {
            details: { issues: [{ path: '', message: 'a request body is required' }] },
          });
        }
        if (route.body?.kind === 'json') {
          // A text body reached a JSON route (text parsers exist for templates): refuse the media type.
          if (typeof request.body === 'string') {
            throw new ApiError(415, ApiErrorCode.UnsupportedMediaType, JSON_ONLY);
          }
          body = parseInput(route.body.schema, request.body, 'body');
        } else if (route.body?.kind === 'template-source') {
          body = parseInput(
            route.body.schema,
            typeof request.body === 'string' ? { yaml: request.body } : request.body,
            'body',
          );
        }
        const principal = principals.get(request) ?? ANONYMOUS;
        return route.handle({ params, query, body, principal, request, reply });
      },
    });
  }

  await app.ready();

  let closing: Promise<void> | undefined;
  return {
    app,
    routes,
    openapi,
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
