/**
 * The JSON body parser of the REST API. It replaces Fastify's own for two reasons:
 *
 * - Every JSON object is accepted as given, keys named `__proto__` or `constructor` included. `JSON.parse` keeps
 *   such keys as plain own properties (it never sets a prototype), and nothing downstream assigns them with
 *   `obj[key] = value`, so accepting them pollutes nothing; refusing them refused valid task contexts.
 * - Nesting deeper than `orchestration.api.max_json_depth` is refused before parsing, with a 400 that names the
 *   limit, instead of letting a recursive serializer (or PostgreSQL's jsonb parser) overflow later.
 */
import { jsonTextExceedsDepth } from '../json-depth.js';
import { ApiError, ApiErrorCode } from './errors.js';

/**
 * Parses a JSON request body.
 * @throws ApiError 400 `INVALID_JSON` for an empty or malformed body, 400 `JSON_TOO_DEEP` for one nested deeper
 * than `maxDepth`.
 */
export function parseJsonBody(raw: string, maxDepth: number): unknown {
  // A leading byte-order mark is tolerated, as Fastify's own parser did.
  const text = raw.charCodeAt(0) === 0xfeff ? raw.slice(1) : raw;
  if (text === '') {
    throw new ApiError(
      400,
      ApiErrorCode.InvalidJson,
      'request body is empty but content type is application/json',
    );
  }
  if (jsonTextExceedsDepth(text, maxDepth)) {
    throw new ApiError(
      400,
      ApiErrorCode.JsonTooDeep,
      `request body nests deeper than ${maxDepth} levels of objects and arrays (orchestration.api.max_json_depth)`,
      { details: { max_json_depth: maxDepth } },
    );
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    const reason = e instanceof Error ? e.message : String(e);
    throw new ApiError(400, ApiErrorCode.InvalidJson, `request body is not valid JSON: ${reason}`);
  }
}
