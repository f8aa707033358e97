/**
 * The client's HTTP transport: URLs and credentials, one attempt under the time limit, retries with backoff
 * and `Retry-After`, error bodies mapped to typed errors, and opening one connection of an event stream.
 * `TaskerClient`'s resource methods say what to send; this module says how.
 */
import {
  apiErrorFor,
  TaskerAbortError,
  TaskerApiError,
  TaskerNetworkError,
  TaskerTimeoutError,
  TaskerUnavailableError,
  type RequestInfo,
} from './errors.js';
import {
  backoffDelayMs,
  parseRetryAfter,
  resolveRetryOptions,
  sleep,
  type ResolvedRetryOptions,
} from './retry.js';
import type { CallOptions, FetchFn, TaskerClientOptions } from './types.js';

type Method = 'GET' | 'POST' | 'PATCH' | 'DELETE';
export type QueryValue = string | number | readonly string[] | undefined;

/** One request of the client: what to send and how it may be retried. */
export interface RequestSpec {
  method: Method;
  /** Path segments are already encoded. */
  path: string;
  query?: Record<string, QueryValue>;
  json?: unknown;
  /**
   * True when sending the request twice cannot do anything twice, so it may be retried after a 503 or a
   * connection failure whose outcome is unknown.
   */
  idempotent: boolean;
  /** Non-2xx statuses whose body is an answer, not an error (health reports 503 with a body). */
  answerStatuses?: readonly number[];
  /** Parse the body as text instead of JSON. */
  text?: boolean;
  signal: AbortSignal | undefined;
}

/** The status and parsed body of an answered request. */
export interface ApiResponse {
  status: number;
  body: unknown;
}

/** Encodes one path segment (a UUID, a namespace, a name). */
export function seg(value: string): string {
  return encodeURIComponent(value);
}

function isAbortLike(e: unknown): boolean {
  return e instanceof Error && (e.name === 'AbortError' || e.name === 'TimeoutError');
}

function describeCause(e: unknown): string {
  if (!(e instanceof Error)) return String(e);
  // Node's fetch reports "fetch failed" and puts the useful part (ECONNREFUSED, ENOTFOUND, ...) in `cause`.
  const cause = (e as { cause?: unknown }).cause;
  if (cause instanceof Error) {
    const code = (cause as { code?: unknown }).code;
    return typeof code === 'string' ? `${code}: ${cause.message}` : cause.message;
  }
  return e.message;
}

/** Reads an error response body into code, message and details, whatever the server (or a proxy) sent. */
function parseErrorBody(
  status: number,
  statusText: string,
  text: string,
): {
  code: string;
  message: string;
  details: Record<string, unknown> | undefined;
} {
  try {
    const parsed = JSON.parse(text) as unknown;
    if (typeof parsed === 'object' && parsed !== null && 'error' in parsed) {
      const error = parsed.error;
      if (typeof error === 'object' && error !== null) {
        const { code, message, details } = error as Record<string, unknown>;
        return {
          code: typeof code === 'string' ? code : `HTTP_${status}`,
          message: typeof message === 'string' ? message : statusText,
          details:
            typeof details === 'object' && details !== null && !Array.isArray(details)
              ? (details as Record<string, unknown>)
              : undefined,
        };
      }
    }
  } catch {
    // Not JSON: a proxy or a non-Tasker server answered; fall through to a generic error.
  }
  const snippet = text.trim().slice(0, 200);
  return {
    code: `HTTP_${status}`,
    message: snippet ? `${statusText}: ${snippet}` : statusText || 'error',
    details: undefined,
  };
}

/** Sends the client's requests; one per client, built from its options (which it validates). */
export class Transport {
  readonly #base: URL;
  readonly #apiKey: string | undefined;
  readonly #bearer: TaskerClientOptions['bearerToken'];
  readonly #fetch: FetchFn;
  readonly #retry: ResolvedRetryOptions;
  readonly #timeoutMs: number | undefined;

  constructor(options: TaskerClientOptions) {
    const base = new URL(options.baseUrl);
    if (base.protocol !== 'http:' && base.protocol !== 'https:') {
      throw new TypeError(`baseUrl must be an http(s) URL (got ${base.protocol})`);
    }
    // Paths are resolved relative to the base, so it must end in a slash to keep a path prefix.
    if (!base.pathname.endsWith('/')) base.pathname += '/';
    base.search = '';
    base.hash = '';
    this.#base = base;
    this.#apiKey = options.apiKey;
    this.#bearer = options.bearerToken;
    this.#fetch = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
    this.#retry = resolveRetryOptions(options.retry);
    if (options.timeoutMs !== undefined && !(options.timeoutMs > 0)) {
      throw new RangeError('timeoutMs must be > 0');
    }
    this.#timeoutMs = options.timeoutMs;
  }

  /** The API base URL (always ending in `/`). */
  get base(): URL {
    return this.#base;
  }

  /** The resolved retry options (event streams reuse the backoff ceiling). */
  get retry(): ResolvedRetryOptions {
    return this.#retry;
  }

  async get(path: string, options: CallOptions, query?: Record<string, QueryValue>): Promise<unknown> {
    return (
      await this.request({
        method: 'GET',
        path,
        idempotent: true,
        signal: options.signal,
        ...(query ? { query } : {}),
      })
    ).body;
  }

  /** GET of a report whose 503 answer (unhealthy, not ready) is a result, not an error. */
  async getReport(path: string, options: CallOptions): Promise<unknown> {
    const res = await this.request({
      method: 'GET',
      path,
      idempotent: true,
      answerStatuses: [503],
      signal: options.signal,
    });
    return res.body;
  }

  #url(path: string, query?: Record<string, QueryValue>): URL {
    const url = new URL(path, this.#base);
    for (const [key, value] of Object.entries(query ?? {})) {
      if (value === undefined) continue;
      if (typeof value === 'string' || typeof value === 'number') url.searchParams.append(key, String(value));
      else for (const v of value) url.searchParams.append(key, v);
    }
    return url;
  }

  async #headers(extra: Record<string, string>): Promise<Record<string, string>> {
    const headers: Record<string, string> = { 'user-agent': 'tasker-client', ...extra };
    if (this.#apiKey !== undefined && this.#apiKey !== '') headers['x-api-key'] = this.#apiKey;
    const bearer = typeof this.#bearer === 'function' ? await this.#bearer() : this.#bearer;
    if (bearer !== undefined && bearer !== '') headers.authorization = `Bearer ${bearer}`;
    return headers;
  }

  /** Runs a request with retries; returns the parsed body of a 2xx (or answer-status) response. */
  async request(spec: RequestSpec): Promise<ApiResponse> {
    const url = this.#url(spec.path, spec.query);
    const info: RequestInfo = { method: spec.method, path: `${url.pathname}${url.search}` };
    for (let attempt = 1; ; attempt++) {
      throwIfAborted(spec.signal, info);
      let failure: TaskerUnavailableError | TaskerNetworkError;
      try {
        return await this.#attempt(spec, url, info);
      } catch (e) {
        // Only "try later" answers (429/503) and connection failures are worth another attempt.
        if (!(e instanceof TaskerNetworkError || e instanceof TaskerUnavailableError) || FINAL.has(e)) {
          throw e;
        }
        failure = e;
      }
      if (!spec.idempotent || attempt >= this.#retry.maxAttempts) throw failure;
      let delay = backoffDelayMs(attempt, this.#retry);
      if (failure instanceof TaskerApiError && failure.retryAfterMs !== undefined) {
        // Never earlier than the server asked; a little jitter on top keeps clients apart.
        if (failure.retryAfterMs > this.#retry.maxRetryAfterMs) throw failure;
        delay = failure.retryAfterMs + Math.round(Math.random() * Math.min(1000, failure.retryAfterMs / 10));
      }
      try {
        await sleep(delay, spec.signal);
      } catch {
        throw abortError(spec.signal, info);
      }
    }
  }

  /** One attempt: fetch, read the whole body under the time limit, map errors. */
  async #attempt(spec: RequestSpec, url: URL, info: RequestInfo): Promise<ApiResponse> {
    const attempt = new AbortController();
    const timeoutMs = this.#timeoutMs;
    let timedOut = false;
    const timer =
      timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            timedOut = true;
            attempt.abort();
          }, timeoutMs);
    const onAbort = (): void => attempt.abort(spec.signal?.reason);
    spec.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      const headers = await this.#headers({
        accept: spec.text ? 'text/plain, */*' : 'application/json',
        ...(spec.json === undefined ? {} : { 'content-type': 'application/json' }),
      });
      const response = await this.#fetch(url, {
        method: spec.method,
        headers,
        ...(spec.json === undefined ? {} : { body: JSON.stringify(spec.json) }),
        signal: attempt.signal,
      });
      const text = await response.text();
      const ok =
        (response.status >= 200 && response.status < 300) ||
        (spec.answerStatuses ?? []).includes(response.status);
      if (!ok) throw errorFromText(response, text, info);
      if (spec.text) return { status: response.status, body: text };
      if (text === '') return { status: response.status, body: undefined };
      try {
        return { status: response.status, body: JSON.parse(text) as unknown };
      } catch (e) {
        throw final(
          new TaskerNetworkError(
            `the server sent a response that is not JSON (HTTP ${response.status})`,
            info,
            {
              cause: e,
            },
          ),
        );
      }
    } catch (e) {
      if (e instanceof TaskerApiError || e instanceof TaskerNetworkError) throw e;
      if (spec.signal?.aborted) throw abortError(spec.signal, info);
      if (timedOut) {
        throw new TaskerTimeoutError(
          `${info.method} ${info.path} took longer than ${timeoutMs} ms`,
          timeoutMs ?? 0,
          { cause: e },
        );
      }
      if (isAbortLike(e)) throw abortError(spec.signal, info);
      throw new TaskerNetworkError(
        `cannot reach the Tasker API at ${this.#base.origin}: ${describeCause(e)}`,
        info,
        { cause: e },
      );
    } finally {
      clearTimeout(timer);
      spec.signal?.removeEventListener('abort', onAbort);
    }
  }

  /** Opens one connection of an event stream; the caller reads the body and reconnects. */
  async openStream(
    taskUuid: string,
    lastEventId: string | undefined,
    connection: AbortController,
  ): Promise<Response> {
    const url = this.#url(`v1/tasks/${seg(taskUuid)}/events`);
    const info: RequestInfo = { method: 'GET', path: url.pathname };
    let timedOut = false;
    const timer =
      this.#timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            timedOut = true;
            connection.abort();
          }, this.#timeoutMs);
    try {
      const headers = await this.#headers({
        accept: 'text/event-stream',
        'cache-control': 'no-cache',
        ...(lastEventId === undefined || lastEventId === '' ? {} : { 'last-event-id': lastEventId }),
      });
      const response = await this.#fetch(url, { method: 'GET', headers, signal: connection.signal });
      if (response.status !== 200) throw await errorFromResponse(response, info);
      return response;
    } catch (e) {
      if (e instanceof TaskerApiError) throw e;
      if (timedOut) {
        throw new TaskerNetworkError(`event stream did not open within ${this.#timeoutMs} ms`, info, {
          cause: e,
        });
      }
      // An abort by the caller is recognised (and reported) by `events`.
      throw new TaskerNetworkError(
        `cannot reach the Tasker API at ${this.#base.origin}: ${describeCause(e)}`,
        info,
        { cause: e },
      );
    } finally {
      clearTimeout(timer);
    }
  }
}

/** Reads an error response into the matching {@link TaskerApiError}. */
async function errorFromResponse(response: Response, info: RequestInfo): Promise<TaskerApiError> {
  return errorFromText(response, await response.text().catch(() => ''), info);
}

function errorFromText(response: Response, text: string, info: RequestInfo): TaskerApiError {
  const parsed = parseErrorBody(response.status, response.statusText, text);
  const retryAfterMs = parseRetryAfter(response.headers.get('retry-after'));
  const requestId = response.headers.get('x-request-id') ?? undefined;
  return apiErrorFor(response.status, parsed.code, parsed.message, info, {
    ...(parsed.details === undefined ? {} : { details: parsed.details }),
    ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
    ...(requestId === undefined ? {} : { requestId }),
  });
}

/**
 * Errors that another attempt cannot fix although their class is otherwise retried (a server that answers
 * with something other than JSON would answer the same again).
 */
const FINAL = new WeakSet<Error>();

/** Marks `e` as one that another attempt (or reconnection) cannot fix. */
export function final<E extends Error>(e: E): E {
  FINAL.add(e);
  return e;
}

/** The error of a request that the caller aborted. */
export function abortError(signal: AbortSignal | undefined, info: RequestInfo): TaskerAbortError {
  return new TaskerAbortError(`${info.method} ${info.path} was aborted`, { cause: signal?.reason });
}

/** Throws the caller's abort as a {@link TaskerAbortError} before a request starts. */
export function throwIfAborted(signal: AbortSignal | undefined, info: RequestInfo): void {
  if (signal?.aborted) throw abortError(signal, info);
}

/** Whether `e` was marked {@link final}. */
export function isFinal(e: unknown): boolean {
  return e instanceof Error && FINAL.has(e);
}

/** Follows `next_cursor` from `first` until the last page, yielding every item. */
export async function* followPages<T>(
  first: string | undefined,
  fetchPage: (cursor: string | undefined) => Promise<{ items: T[]; next_cursor: string | null }>,
): AsyncGenerator<T, void, undefined> {
  let cursor = first;
  do {
    const page = await fetchPage(cursor);
    yield* page.items;
    cursor = page.next_cursor ?? undefined;
  } while (cursor !== undefined);
}
