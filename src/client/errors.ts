/**
 * Errors of the HTTP client. Every failure a {@link TaskerClient} call can produce is one of these, so callers
 * branch on the class (or on `status` / `apiCode`) instead of parsing messages.
 */
import { brandErrorClass, ErrorCode, TaskerError } from '../errors.js';
import type { ValidationIssueBody } from '../api/schemas.js';

/**
 * `TaskerError.code` values of client-side failures that have no engine {@link ErrorCode}: an API error whose
 * wire code is the API layer's own (`UNAUTHENTICATED`, `VALIDATION_FAILED`, ...), a network failure, and an
 * aborted call. Compare against these constants, never against string literals.
 */
export const ClientErrorCode = {
  Api: ErrorCode.ApiError,
  Network: ErrorCode.NetworkError,
  Aborted: ErrorCode.Aborted,
} as const;

const ENGINE_CODES: ReadonlySet<string> = new Set(Object.values(ErrorCode));

/** What the client knows about the request that failed (for messages and logs; never carries credentials). */
export interface RequestInfo {
  method: string;
  /** Path and query, e.g. `/v1/tasks/…`. */
  path: string;
}

/** What an error response carried besides its status, code and message. */
export interface ApiErrorOptions {
  details?: Record<string, unknown>;
  retryAfterMs?: number;
  requestId?: string;
}

/**
 * The API answered with an error status. `message` is the server's message, `status` the HTTP status,
 * `apiCode` the exact wire code (e.g. `TASK_NOT_FOUND`, `VALIDATION_FAILED`), `details` the structured
 * details of the body, `request` the method and path. `code` is the engine {@link ErrorCode} when the wire
 * code is one, else {@link ClientErrorCode.Api}.
 */
export class TaskerApiError extends TaskerError {
  readonly status: number;
  readonly apiCode: string;
  readonly request: RequestInfo;
  /** Seconds or HTTP date from `Retry-After`, converted to ms from when the response arrived, if sent. */
  readonly retryAfterMs: number | undefined;
  /** The server's `x-request-id` of the failed request (quote it when asking for help), if sent. */
  readonly requestId: string | undefined;

  constructor(
    status: number,
    apiCode: string,
    message: string,
    request: RequestInfo,
    options: ApiErrorOptions = {},
  ) {
    super(
      ENGINE_CODES.has(apiCode) ? (apiCode as ErrorCode) : ClientErrorCode.Api,
      message,
      options.details === undefined ? undefined : { details: options.details },
    );
    this.status = status;
    this.apiCode = apiCode;
    this.request = request;
    this.retryAfterMs = options.retryAfterMs;
    this.requestId = options.requestId;
  }
}
brandErrorClass(TaskerApiError, 'TaskerApiError');

/** 404: the task, step, template or entry does not exist (or the route does not). */
export class TaskerNotFoundError extends TaskerApiError {}
brandErrorClass(TaskerNotFoundError, 'TaskerNotFoundError');

/** 409: a duplicate task, a template version with other content, or an action not allowed in the current state. */
export class TaskerConflictError extends TaskerApiError {}
brandErrorClass(TaskerConflictError, 'TaskerConflictError');

/** 401: credentials missing, malformed, invalid or expired. */
export class TaskerUnauthorizedError extends TaskerApiError {}
brandErrorClass(TaskerUnauthorizedError, 'TaskerUnauthorizedError');

/** 403: the credentials lack the permission the route needs (`details.required`). */
export class TaskerForbiddenError extends TaskerApiError {}
brandErrorClass(TaskerForbiddenError, 'TaskerForbiddenError');

/**
 * 400 or 422: the request (or the submitted template) is invalid. `issues` lists every problem with its field
 * path (and line, for templates), taken from `details.issues`; it is empty when the server named none.
 */
export class TaskerValidationError extends TaskerApiError {
  readonly issues: readonly ValidationIssueBody[];

  constructor(
    status: number,
    apiCode: string,
    message: string,
    request: RequestInfo,
    options: ApiErrorOptions = {},
  ) {
    super(status, apiCode, message, request, options);
    this.issues = issuesOf(options.details);
  }
}
brandErrorClass(TaskerValidationError, 'TaskerValidationError');

/** 429 or 503: the server is overloaded, shutting down or cannot reach its database; retries ran out. */
export class TaskerUnavailableError extends TaskerApiError {}
brandErrorClass(TaskerUnavailableError, 'TaskerUnavailableError');

/** The server could not be reached, or the connection failed before a complete response arrived. */
export class TaskerNetworkError extends TaskerError {
  readonly request: RequestInfo;

  constructor(message: string, request: RequestInfo, options: { cause?: unknown } = {}) {
    super(ClientErrorCode.Network, `${message} (${request.method} ${request.path})`, options);
    this.request = request;
  }
}
brandErrorClass(TaskerNetworkError, 'TaskerNetworkError');

/** A request (`timeoutMs`) or a wait (`waitForTask({ timeoutMs })`) took longer than allowed. */
export class TaskerTimeoutError extends TaskerError {
  readonly timeoutMs: number;

  constructor(message: string, timeoutMs: number, options: { cause?: unknown } = {}) {
    super(ErrorCode.Timeout, message, options);
    this.timeoutMs = timeoutMs;
  }
}
brandErrorClass(TaskerTimeoutError, 'TaskerTimeoutError');

/** The caller's `AbortSignal` fired. `cause` is the signal's reason. */
export class TaskerAbortError extends TaskerError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(ClientErrorCode.Aborted, message, options);
  }
}
brandErrorClass(TaskerAbortError, 'TaskerAbortError');

function issuesOf(details: Record<string, unknown> | undefined): ValidationIssueBody[] {
  const raw = details?.issues;
  if (!Array.isArray(raw)) return [];
  const issues: ValidationIssueBody[] = [];
  for (const item of raw as unknown[]) {
    if (typeof item !== 'object' || item === null) continue;
    const { path, message, line } = item as Record<string, unknown>;
    if (typeof message !== 'string') continue;
    issues.push({
      path: typeof path === 'string' ? path : '',
      message,
      ...(typeof line === 'number' ? { line } : {}),
    });
  }
  return issues;
}

/** Builds the error class that matches an error response. */
export function apiErrorFor(
  status: number,
  apiCode: string,
  message: string,
  request: RequestInfo,
  options: ApiErrorOptions = {},
): TaskerApiError {
  const Kind =
    status === 404
      ? TaskerNotFoundError
      : status === 409
        ? TaskerConflictError
        : status === 401
          ? TaskerUnauthorizedError
          : status === 403
            ? TaskerForbiddenError
            : status === 400 || status === 422
              ? TaskerValidationError
              : status === 429 || status === 503
                ? TaskerUnavailableError
                : TaskerApiError;
  return new Kind(status, apiCode, message, request, options);
}
