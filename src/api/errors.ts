/**
 * Error responses of the REST API. Every failure leaves the server as `{ "error": { code, message, details? } }`;
 * this module is the one place that decides the HTTP status of each error code.
 */
import type { z } from 'zod';
import { isConnectionError, isStatementTimeout, mapDbError } from '../db/errors.js';
import { ErrorCode, TaskerError } from '../errors.js';
import type { ErrorBody, ValidationIssueBody } from './schemas.js';

/** Codes produced by the API layer itself (engine errors keep their {@link ErrorCode}). */
export const ApiErrorCode = {
  NotFound: 'NOT_FOUND',
  StepNotFound: 'STEP_NOT_FOUND',
  DlqEntryNotFound: 'DLQ_ENTRY_NOT_FOUND',
  InvalidJson: 'INVALID_JSON',
  /** A JSON body nests deeper than `orchestration.api.max_json_depth`. */
  JsonTooDeep: 'JSON_TOO_DEEP',
  ValidationFailed: 'VALIDATION_FAILED',
  UnsupportedMediaType: 'UNSUPPORTED_MEDIA_TYPE',
  PayloadTooLarge: 'PAYLOAD_TOO_LARGE',
  Unauthenticated: 'UNAUTHENTICATED',
  Forbidden: 'FORBIDDEN',
  ServiceUnavailable: 'SERVICE_UNAVAILABLE',
  Backpressure: 'BACKPRESSURE',
  Timeout: 'TIMEOUT',
  Internal: 'INTERNAL',
} as const;
export type ApiErrorCode = (typeof ApiErrorCode)[keyof typeof ApiErrorCode];

/** An error with a known HTTP status, thrown by route handlers and hooks. */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly details: Record<string, unknown> | undefined;
  readonly headers: Record<string, string>;

  constructor(
    status: number,
    code: string,
    message: string,
    options: { details?: Record<string, unknown>; headers?: Record<string, string>; cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.details = options.details;
    this.headers = options.headers ?? {};
  }
}

/** A fully decided error response. */
export interface ErrorResponse {
  status: number;
  headers: Record<string, string>;
  body: ErrorBody;
  /** True when the error is unexpected and worth logging with its stack. */
  unexpected: boolean;
}

const RETRY_LATER = { 'retry-after': '5' };

/** HTTP status of each engine error code that reaches a client as itself. */
const STATUS_BY_CODE: Partial<Record<string, number>> = {
  [ErrorCode.TaskInvalid]: 400,
  [ErrorCode.TemplateNotFound]: 404,
  [ErrorCode.TaskNotFound]: 404,
  [ErrorCode.TemplateInvalid]: 422,
  [ErrorCode.TemplateConflict]: 409,
  [ErrorCode.TaskDuplicate]: 409,
  [ErrorCode.InvalidTransition]: 409,
  [ErrorCode.TransitionConflict]: 409,
  // A namespace queue that does not exist yet: the deployment is not fully up, so "try again later".
  [ErrorCode.QueueNotFound]: 503,
  [ErrorCode.ShuttingDown]: 503,
  [ErrorCode.ChannelFull]: 503,
  [ErrorCode.Timeout]: 503,
  [ErrorCode.CircuitOpen]: 503,
  // A statement ran into the statement timeout: the database is up and nothing was written, so the same
  // request may well succeed once the load that slowed it is gone.
  [ErrorCode.DatabaseTimeout]: 503,
};

function body(code: string, message: string, details?: Record<string, unknown>): ErrorBody {
  return { error: details === undefined ? { code, message } : { code, message, details } };
}

function internal(): ErrorResponse {
  // Never echo an unexpected error's message: it may carry SQL, paths or connection strings.
  return {
    status: 500,
    headers: {},
    body: body(ApiErrorCode.Internal, 'internal server error'),
    unexpected: true,
  };
}

function unavailable(message: string): ErrorResponse {
  return {
    status: 503,
    headers: { ...RETRY_LATER },
    body: body(ApiErrorCode.ServiceUnavailable, message),
    unexpected: false,
  };
}

/** Shape of the errors Fastify raises while routing and parsing (only the fields we read). */
interface FastifyLikeError {
  code?: unknown;
  statusCode?: unknown;
  message: string;
}

function isFastifyLike(e: unknown): e is FastifyLikeError {
  return e instanceof Error && ('statusCode' in e || 'code' in e);
}

/** Maps a Fastify framework error (body parsing, limits, media type) to a response, if it is one. */
function fromFastify(e: FastifyLikeError): ErrorResponse | undefined {
  const code = typeof e.code === 'string' ? e.code : '';
  const status = typeof e.statusCode === 'number' ? e.statusCode : undefined;
  switch (code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return {
        status: 413,
        headers: {},
        body: body(ApiErrorCode.PayloadTooLarge, 'request body is larger than the configured limit'),
        unexpected: false,
      };
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return {
        status: 415,
        headers: {},
        body: body(ApiErrorCode.UnsupportedMediaType, e.message),
        unexpected: false,
      };
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return {
        status: 400,
        headers: {},
        body: body(ApiErrorCode.InvalidJson, 'request body is empty but content type is application/json'),
        unexpected: false,
      };
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
    case 'FST_ERR_CTP_INVALID_TYPE':
      return { status: 400, headers: {}, body: body(ApiErrorCode.InvalidJson, e.message), unexpected: false };
    default:
      break;
  }
  // The JSON body parser reports syntax errors and prototype-poisoning attempts as plain errors with 400.
  if (
    status === 400 &&
    (e instanceof SyntaxError || code === '' || code === 'FST_ERR_CTP_INVALID_JSON_BODY')
  ) {
    return {
      status: 400,
      headers: {},
      body: body(ApiErrorCode.InvalidJson, `request body is not valid JSON: ${e.message}`),
      unexpected: false,
    };
  }
  if (status !== undefined && status >= 400 && status < 500) {
    return { status, headers: {}, body: body(code || 'BAD_REQUEST', e.message), unexpected: false };
  }
  return undefined;
}

/** True for a TaskerError code that names a missing thing (`TASK_NOT_FOUND`, `STEP_NOT_FOUND`, ...). */
function isNotFoundCode(code: string): boolean {
  return (
    code.endsWith('_NOT_FOUND') && code !== ErrorCode.QueueNotFound && code !== ErrorCode.HandlerNotFound
  );
}

/**
 * Decides the response for anything thrown while handling a request. Known errors keep their code and
 * message; database outages become 503 `SERVICE_UNAVAILABLE` and statement timeouts 503 `DATABASE_TIMEOUT`,
 * both with `Retry-After`; everything else is a bare 500.
 */
export function toErrorResponse(error: unknown): ErrorResponse {
  if (error instanceof ApiError) {
    return {
      status: error.status,
      headers: error.headers,
      body: body(error.code, error.message, error.details),
      unexpected: error.status >= 500,
    };
  }
  // A canceled statement that reached us unmapped is answered as the timeout it is, not as an outage.
  if (isStatementTimeout(error)) return toErrorResponse(mapDbError(error));
  if (error instanceof TaskerError) {
    if (error.code === ErrorCode.Database) {
      if (isStatementTimeout(error.cause)) return toErrorResponse(mapDbError(error.cause));
      return isConnectionError(error.cause ?? error)
        ? unavailable('the database is unavailable; try again later')
        : internal();
    }
    const status = STATUS_BY_CODE[error.code] ?? (isNotFoundCode(error.code) ? 404 : undefined);
    if (status === undefined) return internal();
    const retryAfterMs = (error.details as { retry_after_ms?: unknown } | undefined)?.retry_after_ms;
    return {
      status,
      headers:
        status !== 503
          ? {}
          : typeof retryAfterMs === 'number'
            ? { 'retry-after': String(Math.max(1, Math.ceil(retryAfterMs / 1000))) }
            : { ...RETRY_LATER },
      body: body(error.code, firstLine(error.message), detailsOf(error)),
      unexpected: false,
    };
  }
  // Pool acquire timeouts and refused connections surface as plain errors from pg.
  if (isConnectionError(error)) return unavailable('the database is unavailable; try again later');
  if (isFastifyLike(error)) {
    const mapped = fromFastify(error);
    if (mapped) return mapped;
  }
  return internal();
}

/**
 * Engine messages for validation errors repeat the issue list after the first line; the list is in
 * `details.issues` already.
 */
function firstLine(message: string): string {
  const nl = message.indexOf('\n');
  return nl === -1 ? message : message.slice(0, nl);
}

function detailsOf(error: TaskerError): Record<string, unknown> | undefined {
  if (!error.details) return undefined;
  const { issues, ...rest } = error.details;
  if (!Array.isArray(issues)) return error.details;
  // Issues on the wire carry path, message and line only (the source label is the server's own).
  const clean: ValidationIssueBody[] = (issues as { path: string; message: string; line?: number }[]).map(
    (i) =>
      i.line === undefined
        ? { path: i.path, message: i.message }
        : { path: i.path, message: i.message, line: i.line },
  );
  return { ...rest, issues: clean };
}

/** Formats a zod issue path the way the rest of Tasker does: `steps[2].depends_on`. */
export function formatIssuePath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else out += out === '' ? String(seg) : `.${String(seg)}`;
  }
  return out;
}

/** 400 VALIDATION_FAILED naming every offending field. */
export function validationError(
  where: 'body' | 'query' | 'path',
  issues: readonly z.core.$ZodIssue[],
): ApiError {
  const list = issues.flatMap((i) => {
    const path = formatIssuePath(i.path);
    // Unknown keys are reported on the parent object; name each key so the caller sees the field.
    if (i.code === 'unrecognized_keys') {
      return i.keys.map((k) => ({ path: path ? `${path}.${k}` : k, message: 'unknown field' }));
    }
    return [{ path, message: i.message }];
  });
  const summary = list.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message)).join('; ');
  return new ApiError(400, ApiErrorCode.ValidationFailed, `invalid request ${where}: ${summary}`, {
    details: { issues: list },
  });
}

/** The standard 404 for a missing thing. */
export function notFound(code: string, message: string, details?: Record<string, unknown>): ApiError {
  return new ApiError(404, code, message, details === undefined ? {} : { details });
}
