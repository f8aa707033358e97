/**
 * Route definitions as data. Each route declares its method, path, permission and zod schemas once; the server
 * registers and validates from the same object that `/openapi.json` is generated from, so the two cannot drift.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type pg from 'pg';
import type { Logger } from 'pino';
import type { z } from 'zod';
import type { ChannelMonitor } from '../channels/index.js';
import type { DatabaseBreaker } from '../resilience/breaker.js';
import type { BackpressureEvaluator } from './backpressure.js';
import type { TaskerConfig } from '../config/index.js';
import type { ApiPermission, Principal } from './auth.js';
import type { ApiMetrics } from './metrics.js';
import type { TaskEventHub } from './task-events.js';

/** What route handlers share: configuration, the pool and process-wide helpers. */
/** Something in the process that can say why it is degraded (an orchestrator, a worker); empty when it is not. */
export interface DegradationSource {
  degradedReasons(): string[];
}

export interface ApiContext {
  config: TaskerConfig;
  pool: pg.Pool;
  /** The pool as given (statistics are kept per underlying pool, `pool` may be a breaker-guarded view). */
  rawPool: pg.Pool;
  logger: Logger;
  /** Recorded as `processor` in audit rows written on behalf of API callers. */
  processorId: string;
  channelMonitor: ChannelMonitor | undefined;
  breaker: DatabaseBreaker | undefined;
  /** The cached overload verdict that task creation consults. */
  backpressure: BackpressureEvaluator;
  metrics: ApiMetrics;
  events: TaskEventHub;
  /** When the server was created (for uptime). */
  startedAt: number;
  /** Engine components of the process that can tell why they are degraded (see {@link DegradationSource}). */
  degradationSources: readonly DegradationSource[];
}

/** The validated input of one request. */
export interface RouteInput<P, Q, B> {
  params: P;
  query: Q;
  body: B;
  principal: Principal;
  request: FastifyRequest;
  reply: FastifyReply;
}

/** How a route takes its body. */
export type BodySpec<B> =
  /** A JSON body validated by the schema. */
  | { kind: 'json'; schema: z.ZodType<B> }
  /**
   * A YAML template: the raw body as `text/yaml`, `application/yaml` or `text/plain`, or JSON `{ "yaml": "..." }`.
   * The handler receives the YAML text.
   */
  | { kind: 'template-source'; schema: z.ZodType<{ yaml: string }> };

/** One documented response of a route. */
export interface ResponseSpec {
  status: number;
  description: string;
  /** JSON body schema; omitted for non-JSON responses. */
  schema?: z.ZodType;
  /** Content type when not `application/json` (e.g. `text/event-stream`, Prometheus text). */
  contentType?: string;
  /** Response headers worth documenting (name → description). */
  headers?: Record<string, string>;
}

/** A route with its types erased, as the server and the OpenAPI generator see it. */
export interface ApiRoute {
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  /** Fastify path syntax: `/v1/tasks/:task_uuid`. */
  url: string;
  operationId: string;
  summary: string;
  description?: string;
  tag: string;
  /**
   * Required permission; `authenticated` = any valid credentials; null = open to anyone (liveness and
   * readiness only).
   */
  permission: ApiPermission | 'authenticated' | null;
  params?: z.ZodType;
  query?: z.ZodType;
  body?: BodySpec<unknown>;
  responses: ResponseSpec[];
  /** Long-lived (event streams): exempt from the request time limit. */
  streaming?: boolean;
  handle(input: RouteInput<unknown, unknown, unknown>): Promise<unknown>;
}

/** A route definition with its input types; see {@link defineRoute}. */
export interface RouteDefinition<P, Q, B> extends Omit<ApiRoute, 'params' | 'query' | 'body' | 'handle'> {
  params?: z.ZodType<P>;
  query?: z.ZodType<Q>;
  body?: BodySpec<B>;
  handle(input: RouteInput<P, Q, B>): Promise<unknown>;
}

/**
 * Declares a route; the handler's `params`, `query` and `body` are typed from the schemas. The erased
 * result goes into the server's route table.
 */
export function defineRoute<P = undefined, Q = undefined, B = undefined>(
  route: RouteDefinition<P, Q, B>,
): ApiRoute {
  // Assignable because `handle` is a method (bivariant parameters); sound because the server only calls it
  // with values parsed by these very schemas.
  return route;
}
