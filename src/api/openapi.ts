/**
 * The OpenAPI 3.1 document, generated from the route table and the zod schemas in `schemas.ts`. Nothing here
 * is written by hand per route, so the document lists exactly what the server serves.
 */
import { z } from 'zod';
import type { ApiRoute, ResponseSpec } from './route.js';
import { errorBody } from './schemas.js';

/** A JSON value in the generated document. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };
type JsonObject = { [key: string]: JsonValue };

/** The generated OpenAPI document (plain JSON). */
export interface OpenApiDocument {
  openapi: '3.1.0';
  info: { title: string; version: string; description: string };
  paths: Record<string, Record<string, JsonObject>>;
  components: { schemas: Record<string, JsonObject>; securitySchemes: Record<string, JsonObject> };
  tags: { name: string; description: string }[];
}

const TAG_DESCRIPTIONS: Record<string, string> = {
  tasks: 'Create, list, read and cancel tasks; their transitions and event streams.',
  steps: 'Steps of a task and operator actions on them.',
  templates: 'Registered task templates; validate and register new ones.',
  dlq: 'The dead-letter queue of tasks that need an operator.',
  health: 'Liveness, readiness, detailed health and metrics.',
  dashboard: 'Reads the web dashboard makes beyond the resources above (the overview).',
  meta: 'This document, and who the caller is.',
};

/** Generic error responses every route of a kind can produce. */
const STANDARD_ERRORS: Record<number, string> = {
  400:
    'Invalid input (`INVALID_JSON`, `JSON_TOO_DEEP` past `orchestration.api.max_json_depth`, `VALIDATION_FAILED` ' +
    'with `details.issues`, `TASK_INVALID`).',
  401: 'Missing, malformed, invalid or expired credentials (`UNAUTHENTICATED`).',
  403: 'The credentials lack the required permission (`FORBIDDEN`).',
  413: 'Body larger than `orchestration.api.body_limit_bytes` (`PAYLOAD_TOO_LARGE`).',
  415: 'Unsupported content type (`UNSUPPORTED_MEDIA_TYPE`).',
  500: 'Unexpected server error (`INTERNAL`); details are logged, never returned.',
  503:
    'Database unavailable, a database statement timed out or the request time limit was exceeded ' +
    '(`SERVICE_UNAVAILABLE`, `DATABASE_TIMEOUT`, `TIMEOUT`); see `Retry-After`.',
};

/**
 * Converts a zod schema, moving named schemas (`.meta({ id })`) into `components.schemas` and pointing
 * references there, because OpenAPI resolves `$ref` against the whole document, not the fragment.
 */
function toSchema(
  schema: z.ZodType,
  io: 'input' | 'output',
  components: Record<string, JsonObject>,
): JsonObject {
  const json = z.toJSONSchema(schema, { target: 'draft-2020-12', io, unrepresentable: 'any' }) as JsonObject;
  const defs = json.$defs as Record<string, JsonObject> | undefined;
  delete json.$defs;
  delete json.$schema;
  for (const [id, def] of Object.entries(defs ?? {})) components[id] = rewriteRefs(def) as JsonObject;
  return rewriteRefs(json) as JsonObject;
}

function rewriteRefs(value: JsonValue): JsonValue {
  if (Array.isArray(value)) return value.map(rewriteRefs);
  if (value === null || typeof value !== 'object') return value;
  const out: JsonObject = {};
  for (const [k, v] of Object.entries(value)) {
    out[k] =
      k === '$ref' && typeof v === 'string' ? v.replace('#/$defs/', '#/components/schemas/') : rewriteRefs(v);
  }
  return out;
}

/** Fastify `:param` segments become OpenAPI `{param}`. */
export function openApiPath(url: string): string {
  return url.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
}

function parameters(
  schema: z.ZodType | undefined,
  location: 'path' | 'query',
  components: Record<string, JsonObject>,
): JsonObject[] {
  if (!schema) return [];
  const json = toSchema(schema, 'input', components);
  const props = (json.properties ?? {}) as Record<string, JsonObject>;
  const required = new Set((json.required ?? []) as string[]);
  return Object.entries(props).map(([name, prop]) => {
    const { description, ...rest } = prop;
    const param: JsonObject = {
      name,
      in: location,
      required: location === 'path' || required.has(name),
      schema: rest,
    };
    if (typeof description === 'string') param.description = description;
    // Repeatable query parameters (`?tag=a&tag=b`) are exploded arrays in OpenAPI terms.
    if (location === 'query' && JSON.stringify(rest).includes('"array"')) param.explode = true;
    return param;
  });
}

function requestBody(route: ApiRoute, components: Record<string, JsonObject>): JsonObject | undefined {
  const body = route.body;
  if (!body) return undefined;
  const schema = toSchema(body.schema, 'input', components);
  if (body.kind === 'json') return { required: true, content: { 'application/json': { schema } } };
  const text: JsonObject = { schema: { type: 'string', description: 'The template as YAML.' } };
  return {
    required: true,
    content: {
      'text/yaml': text,
      'application/yaml': text,
      'text/plain': text,
      'application/json': { schema },
    },
  };
}

function response(spec: ResponseSpec, components: Record<string, JsonObject>): JsonObject {
  const out: JsonObject = { description: spec.description };
  if (spec.schema) {
    out.content = {
      [spec.contentType ?? 'application/json']: { schema: toSchema(spec.schema, 'output', components) },
    };
  } else if (spec.contentType) {
    out.content = { [spec.contentType]: { schema: { type: 'string' } } };
  }
  if (spec.headers) {
    out.headers = Object.fromEntries(
      Object.entries(spec.headers).map(([name, description]) => [
        name,
        { description, schema: { type: 'string' } },
      ]),
    );
  }
  return out;
}

/** Builds the OpenAPI 3.1 document for a route table. */
export function buildOpenApi(routes: readonly ApiRoute[], version: string): OpenApiDocument {
  const components: Record<string, JsonObject> = {};
  const errorRef = toSchema(errorBody, 'output', components);
  const paths: OpenApiDocument['paths'] = {};
  for (const route of routes) {
    const responses: JsonObject = {};
    for (const spec of route.responses) responses[String(spec.status)] = response(spec, components);
    const standard = new Set<number>([500, 503]);
    if (route.params || route.query || route.body) standard.add(400);
    if (route.body) {
      standard.add(413);
      standard.add(415);
    }
    if (route.permission !== null) standard.add(401);
    if (route.permission !== null && route.permission !== 'authenticated') standard.add(403);
    for (const status of standard) {
      responses[String(status)] ??= {
        description: STANDARD_ERRORS[status]!,
        content: { 'application/json': { schema: errorRef } },
      };
    }
    const operation: JsonObject = {
      operationId: route.operationId,
      summary: route.summary,
      tags: [route.tag],
      parameters: [
        ...parameters(route.params, 'path', components),
        ...parameters(route.query, 'query', components),
      ],
      responses,
      security: route.permission === null ? [] : [{ apiKey: [] }, { bearer: [] }],
    };
    if (route.description) operation.description = route.description;
    if (route.permission !== null) operation['x-permission'] = route.permission;
    const body = requestBody(route, components);
    if (body) operation.requestBody = body;
    (paths[openApiPath(route.url)] ??= {})[route.method.toLowerCase()] = operation;
  }
  const tags = [...new Set(routes.map((r) => r.tag))].map((name) => ({
    name,
    description: TAG_DESCRIPTIONS[name] ?? name,
  }));
  return {
    openapi: '3.1.0',
    info: {
      title: 'Tasker API',
      version,
      description:
        'REST API of the Tasker workflow engine. Errors are always `{ "error": { "code", "message", "details"? } }`.',
    },
    paths,
    components: {
      schemas: Object.fromEntries(Object.entries(components).sort(([a], [b]) => a.localeCompare(b))),
      securitySchemes: {
        apiKey: { type: 'apiKey', in: 'header', name: 'X-API-Key' },
        bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' },
      },
    },
    tags,
  };
}
