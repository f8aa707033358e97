/**
 * The Fastify side of the API server: body parsers (JSON with a depth limit, template YAML as text), the
 * authentication hook, per-request metrics and debug logs, uniform error bodies, and mounting the route table
 * with its inputs validated. `server.ts` decides what is served; this module how.
 */
import { randomUUID } from 'node:crypto';
import Fastify, {
  LogController,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
} from 'fastify';
import type { Logger } from 'pino';
import type { z } from 'zod';
import type { TaskerConfig } from '../config/index.js';
import type { TaskMetrics } from '../observability/task-metrics.js';
import { ANONYMOUS, authorize, type Authenticator, type Principal } from './auth.js';
import { ApiError, ApiErrorCode, toErrorResponse, validationError } from './errors.js';
import { parseJsonBody } from './json-body.js';
import type { ApiMetrics } from './metrics.js';
import type { ApiRoute } from './route.js';

/** Message of a 415 for a text body sent to a JSON route. */
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

/** Parses one part of a request (body, query, path) against its schema; refuses NUL characters first. */
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

/** The principal each request was authenticated as (set by the `onRequest` hook). */
export type Principals = WeakMap<FastifyRequest, Principal>;

/** What the request hooks need: who may call, and where requests are counted and logged. */
export interface RequestHookDeps {
  authenticator: Authenticator;
  metrics: ApiMetrics;
  taskMetrics: TaskMetrics;
  logger: Logger;
}

/** The Fastify instance with the API's limits, request ids and body parsers. */
export function createFastifyApp(
  apiConfig: TaskerConfig['orchestration']['api'],
  logger: Logger,
): FastifyInstance {
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

  return app;
}

/** Authenticates and authorizes each request before routing; counts and logs it once answered. */
export function installRequestHooks(app: FastifyInstance, deps: RequestHookDeps): Principals {
  const { authenticator, metrics, taskMetrics, logger } = deps;
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

  return principals;
}

/** Uniform error bodies for thrown errors, handler timeouts and unknown routes. */
export function installErrorHandlers(app: FastifyInstance, logger: Logger): void {
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
}

/** Registers every route, validating path, query and body against its schemas before its handler runs. */
export function mountRoutes(app: FastifyInstance, routes: readonly ApiRoute[], principals: Principals): void {
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
}
