/**
 * A typed client of the Tasker REST API. Request and response types are the wire types of `src/api/schemas.ts`
 * (imported as types only, so the client has no runtime dependency beyond the global `fetch`).
 */
import type {
  CreateTaskBody,
  DlqEntryBody,
  DlqListBody,
  EventStreamEndBody,
  HealthBody,
  ListDlqQuery,
  ListTasksQuery,
  LiveBody,
  ReadyBody,
  StepActionBody,
  StepBody,
  StepListBody,
  TaskBody,
  TaskListBody,
  TaskSummaryBody,
  TemplateDetailBody,
  TemplateListBody,
  TemplateRegistrationBody,
  TemplateSummaryBody,
  TemplateValidationBody,
  TransitionBody,
  TransitionListBody,
  UpdateDlqBody,
  ValidationIssueBody,
} from '../api/schemas.js';
import {
  apiErrorFor,
  TaskerAbortError,
  TaskerApiError,
  TaskerNetworkError,
  TaskerTimeoutError,
  TaskerUnavailableError,
  TaskerValidationError,
  type RequestInfo,
} from './errors.js';
import {
  backoffDelayMs,
  parseRetryAfter,
  resolveRetryOptions,
  sleep,
  type ResolvedRetryOptions,
  type RetryOptions,
} from './retry.js';
import { readSseStream, SseParser } from './sse.js';

/** The `fetch` function the client calls (the global one unless given). */
export type FetchFn = (input: string | URL, init?: RequestInit) => Promise<Response>;

/** Options of {@link TaskerClient}. */
export interface TaskerClientOptions {
  /** Base URL of the API, e.g. `http://127.0.0.1:8080` (a path prefix is kept: `https://host/tasker`). */
  baseUrl: string | URL;
  /** Sent as `X-API-Key`. */
  apiKey?: string;
  /** Sent as `Authorization: Bearer …`; a function is called for every request (token refresh). */
  bearerToken?: string | (() => string | Promise<string>);
  /** A `fetch` implementation; defaults to the global `fetch`. */
  fetch?: FetchFn;
  /** Retry policy of idempotent requests on 429/503 and connection failures. */
  retry?: RetryOptions;
  /**
   * Time limit of one attempt in ms, until the whole response is read (for event streams: until the stream
   * opens). No limit when omitted.
   */
  timeoutMs?: number;
}

/** Per-call options. */
export interface CallOptions {
  /** Aborts the call (and its retries); the call rejects with {@link TaskerAbortError}. */
  signal?: AbortSignal;
}

/** Query of {@link TaskerClient.listTasks}: every field optional (`limit` defaults to 50 on the server). */
export type TaskListQuery = Partial<ListTasksQuery>;
/** Query of {@link TaskerClient.listDlq}. */
export type DlqListQuery = Partial<ListDlqQuery>;
/** The reason (and optionally who) of an operator action on a step. */
export type StepActionOptions = Pick<StepActionBody, 'reason' | 'by'>;
/** The result stored by {@link TaskerClient.completeManually}: any JSON value. */
export type ManualResult = Extract<StepActionBody, { action_type: 'complete_manually' }>['result'];
/** A task state as the API names it. */
export type TaskStateName = EventStreamEndBody['state'];

/** Result of {@link TaskerClient.createTask}. */
export interface CreateTaskResult {
  task: TaskBody;
  /** False when an idempotency key matched an existing task, which is returned instead (HTTP 200). */
  created: boolean;
}

/** Result of {@link TaskerClient.validateTemplate}. */
export type TemplateValidationResult =
  | TemplateValidationBody
  | {
      valid: false;
      /** The server's summary. */
      message: string;
      /** Every problem, with its path and (when known) its line in the YAML. */
      issues: ValidationIssueBody[];
    };

/** One event of a task's event stream. */
export type TaskEvent =
  | {
      type: 'transition';
      /** The transition key (the SSE id); unique per task. */
      id: string;
      transition: TransitionBody;
    }
  | {
      type: 'end';
      /** The state the task finished in. */
      state: TaskStateName;
    };

/** Options of {@link TaskerClient.events}. */
export interface EventsOptions extends CallOptions {
  /**
   * Resume after this event id (a transition key). Delivery is at-least-once: the server may repeat events
   * from shortly before it, which this iterator cannot recognise unless it saw them itself.
   */
  lastEventId?: string;
  /**
   * Reconnections in a row that may fail (no event received in between) before the iterator gives up with
   * the last error. Default 10.
   */
  maxReconnectAttempts?: number;
}

/** Options of {@link TaskerClient.waitForTask}. */
export interface WaitForTaskOptions extends EventsOptions {
  /** Called for every step transition, in stream order; awaited. */
  onStep?: (transition: TransitionBody) => void | Promise<void>;
  /** Called for every transition (task and step), in stream order; awaited. */
  onTransition?: (transition: TransitionBody) => void | Promise<void>;
  /** Rejects with {@link TaskerTimeoutError} when the task has not finished within this many ms. */
  timeoutMs?: number;
}

type Method = 'GET' | 'POST' | 'PATCH' | 'DELETE';
type QueryValue = string | number | readonly string[] | undefined;

interface RequestSpec {
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

interface ApiResponse {
  status: number;
  body: unknown;
}

const DEFAULT_SSE_RETRY_MS = 1000;

function seg(value: string): string {
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

/**
 * A client of the Tasker REST API.
 *
 * Idempotent requests (reads, cancel, template validation and registration, DLQ updates, and task creation
 * with an `idempotency_key`) are retried on 429/503 and on connection failures, with exponential backoff and
 * jitter, always waiting at least as long as `Retry-After` asks. Step actions and task creation without an
 * idempotency key are never retried: their outcome after a failure is unknown, and repeating them could act
 * twice.
 *
 * @example
 * const client = new TaskerClient({ baseUrl: 'http://127.0.0.1:8080', apiKey: process.env.TASKER_API_KEY });
 * const { task } = await client.createTask({ namespace: 'shop', name: 'checkout', context: { order: 1 } });
 * const done = await client.waitForTask(task.task_uuid, { onStep: (t) => console.log(t.step_name, t.to_state) });
 */
export class TaskerClient {
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
  get baseUrl(): string {
    return this.#base.href;
  }

  // ------------------------------------------------------------------------------------------------------------
  // Tasks
  // ------------------------------------------------------------------------------------------------------------

  /**
   * Creates a task. `created` is false when the request carried an idempotency key (or the template's
   * identity strategy matched) and the existing task was returned. Retried on 503 only with an
   * `idempotency_key`.
   */
  async createTask(body: CreateTaskBody, options: CallOptions = {}): Promise<CreateTaskResult> {
    const res = await this.#request({
      method: 'POST',
      path: 'v1/tasks',
      json: body,
      idempotent: body.idempotency_key !== undefined,
      signal: options.signal,
    });
    return { task: res.body as TaskBody, created: res.status === 201 };
  }

  /** A task with its steps. Throws {@link TaskerNotFoundError} for an unknown task. */
  async getTask(taskUuid: string, options: CallOptions = {}): Promise<TaskBody> {
    return (await this.#get(`v1/tasks/${seg(taskUuid)}`, options)) as TaskBody;
  }

  /** One page of tasks, newest first; pass `next_cursor` back as `cursor` for the next page. */
  async listTasks(query: TaskListQuery = {}, options: CallOptions = {}): Promise<TaskListBody> {
    return (await this.#get('v1/tasks', options, {
      namespace: query.namespace,
      name: query.name,
      version: query.version,
      state: query.state && query.state.length > 0 ? query.state.join(',') : undefined,
      created_from: query.created_from,
      created_to: query.created_to,
      tag: query.tag,
      limit: query.limit,
      cursor: query.cursor,
    })) as TaskListBody;
  }

  /** Every task matching `query`, page after page (`limit` is the page size). */
  async *iterateTasks(
    query: TaskListQuery = {},
    options: CallOptions = {},
  ): AsyncGenerator<TaskSummaryBody, void, undefined> {
    yield* this.#pages(query.cursor, (cursor) =>
      this.listTasks({ ...query, ...(cursor === undefined ? {} : { cursor }) }, options),
    );
  }

  /** Follows `next_cursor` from `first` until the last page, yielding every item. */
  async *#pages<T>(
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

  /**
   * Cancels a task and returns it. Throws {@link TaskerConflictError} (`INVALID_TRANSITION`) when it already
   * finished. A retried cancel whose first attempt went through also reports that conflict.
   */
  async cancelTask(taskUuid: string, options: CallOptions & { reason?: string } = {}): Promise<TaskBody> {
    const res = await this.#request({
      method: 'DELETE',
      path: `v1/tasks/${seg(taskUuid)}`,
      query: { reason: options.reason },
      idempotent: true,
      signal: options.signal,
    });
    return res.body as TaskBody;
  }

  /** The task's audit trail (its own and its steps' transitions), oldest first. */
  async taskTransitions(taskUuid: string, options: CallOptions = {}): Promise<TransitionBody[]> {
    return ((await this.#get(`v1/tasks/${seg(taskUuid)}/transitions`, options)) as TransitionListBody).items;
  }

  // ------------------------------------------------------------------------------------------------------------
  // Steps
  // ------------------------------------------------------------------------------------------------------------

  /** The steps of a task, in template order. */
  async listSteps(taskUuid: string, options: CallOptions = {}): Promise<StepBody[]> {
    return ((await this.#get(`v1/tasks/${seg(taskUuid)}/steps`, options)) as StepListBody).items;
  }

  /** One step of a task. */
  async getStep(taskUuid: string, stepUuid: string, options: CallOptions = {}): Promise<StepBody> {
    return (await this.#get(`v1/tasks/${seg(taskUuid)}/steps/${seg(stepUuid)}`, options)) as StepBody;
  }

  /** A step's audit trail, oldest first. */
  async stepTransitions(
    taskUuid: string,
    stepUuid: string,
    options: CallOptions = {},
  ): Promise<TransitionBody[]> {
    const body = await this.#get(`v1/tasks/${seg(taskUuid)}/steps/${seg(stepUuid)}/transitions`, options);
    return (body as TransitionListBody).items;
  }

  /**
   * Applies an operator action to a step and returns the step afterwards. Never retried automatically.
   * Throws {@link TaskerConflictError} when the action is not allowed in the step's or task's state.
   */
  async stepAction(
    taskUuid: string,
    stepUuid: string,
    action: StepActionBody,
    options: CallOptions = {},
  ): Promise<StepBody> {
    const res = await this.#request({
      method: 'PATCH',
      path: `v1/tasks/${seg(taskUuid)}/steps/${seg(stepUuid)}`,
      json: action,
      idempotent: false,
      signal: options.signal,
    });
    return res.body as StepBody;
  }

  /** Puts a failed step back to run again (attempts start over); its task resumes. */
  resetForRetry(
    taskUuid: string,
    stepUuid: string,
    action: StepActionOptions,
    options: CallOptions = {},
  ): Promise<StepBody> {
    return this.stepAction(taskUuid, stepUuid, { action_type: 'reset_for_retry', ...action }, options);
  }

  /** Marks a step resolved by hand, without a result; its dependents may run. */
  resolveManually(
    taskUuid: string,
    stepUuid: string,
    action: StepActionOptions,
    options: CallOptions = {},
  ): Promise<StepBody> {
    return this.stepAction(taskUuid, stepUuid, { action_type: 'resolve_manually', ...action }, options);
  }

  /** Completes a step by hand with `result` (any JSON value) as its result; its dependents see it. */
  completeManually(
    taskUuid: string,
    stepUuid: string,
    result: ManualResult,
    action: StepActionOptions,
    options: CallOptions = {},
  ): Promise<StepBody> {
    return this.stepAction(
      taskUuid,
      stepUuid,
      { action_type: 'complete_manually', result, ...action },
      options,
    );
  }

  // ------------------------------------------------------------------------------------------------------------
  // Templates
  // ------------------------------------------------------------------------------------------------------------

  /** Every registered template version (optionally of one namespace). */
  async listTemplates(
    query: { namespace?: string } = {},
    options: CallOptions = {},
  ): Promise<TemplateSummaryBody[]> {
    return ((await this.#get('v1/templates', options, { namespace: query.namespace })) as TemplateListBody)
      .items;
  }

  /** A registered template with its steps and DAG; the highest version when `version` is omitted. */
  async getTemplate(
    namespace: string,
    name: string,
    version?: string,
    options: CallOptions = {},
  ): Promise<TemplateDetailBody> {
    return (await this.#get(`v1/templates/${seg(namespace)}/${seg(name)}`, options, {
      version,
    })) as TemplateDetailBody;
  }

  /**
   * Validates a YAML template without registering it. An invalid template is a normal result
   * (`valid: false` with every issue), not an error.
   */
  async validateTemplate(yamlText: string, options: CallOptions = {}): Promise<TemplateValidationResult> {
    try {
      const res = await this.#request({
        method: 'POST',
        path: 'v1/templates/validate',
        json: { yaml: yamlText },
        idempotent: true,
        signal: options.signal,
      });
      return res.body as TemplateValidationBody;
    } catch (e) {
      if (e instanceof TaskerValidationError && e.apiCode === 'TEMPLATE_INVALID') {
        return { valid: false, message: e.message, issues: [...e.issues] };
      }
      throw e;
    }
  }

  /**
   * Registers a YAML template version. Registering the same content again returns `created: false`; other
   * content under an existing version throws {@link TaskerConflictError}; an invalid template throws
   * {@link TaskerValidationError} with its issues.
   */
  async registerTemplate(yamlText: string, options: CallOptions = {}): Promise<TemplateRegistrationBody> {
    const res = await this.#request({
      method: 'POST',
      path: 'v1/templates',
      json: { yaml: yamlText },
      // Registration is content-addressed: repeating it is a no-op.
      idempotent: true,
      signal: options.signal,
    });
    return res.body as TemplateRegistrationBody;
  }

  // ------------------------------------------------------------------------------------------------------------
  // Dead-letter queue
  // ------------------------------------------------------------------------------------------------------------

  /** One page of dead-letter entries, newest first. */
  async listDlq(query: DlqListQuery = {}, options: CallOptions = {}): Promise<DlqListBody> {
    return (await this.#get('v1/dlq', options, {
      resolution_status: query.resolution_status,
      reason: query.reason,
      limit: query.limit,
      cursor: query.cursor,
    })) as DlqListBody;
  }

  /** Every dead-letter entry matching `query`, page after page. */
  async *iterateDlq(
    query: DlqListQuery = {},
    options: CallOptions = {},
  ): AsyncGenerator<DlqEntryBody, void, undefined> {
    yield* this.#pages(query.cursor, (cursor) =>
      this.listDlq({ ...query, ...(cursor === undefined ? {} : { cursor }) }, options),
    );
  }

  /** One dead-letter entry. */
  async getDlq(entryUuid: string, options: CallOptions = {}): Promise<DlqEntryBody> {
    return (await this.#get(`v1/dlq/${seg(entryUuid)}`, options)) as DlqEntryBody;
  }

  /** Updates the resolution of a dead-letter entry; only the given fields change. */
  async updateDlq(entryUuid: string, patch: UpdateDlqBody, options: CallOptions = {}): Promise<DlqEntryBody> {
    const res = await this.#request({
      method: 'PATCH',
      path: `v1/dlq/${seg(entryUuid)}`,
      json: patch,
      // Setting fields to given values: repeating it changes nothing more.
      idempotent: true,
      signal: options.signal,
    });
    return res.body as DlqEntryBody;
  }

  // ------------------------------------------------------------------------------------------------------------
  // Health and metrics
  // ------------------------------------------------------------------------------------------------------------

  /** Detailed health; an unhealthy server's report (HTTP 503) is returned, not thrown. */
  async health(options: CallOptions = {}): Promise<HealthBody> {
    return (await this.#getReport('health', options)) as HealthBody;
  }

  /** GET of a report whose 503 answer (unhealthy, not ready) is a result, not an error. */
  async #getReport(path: string, options: CallOptions): Promise<unknown> {
    const res = await this.#request({
      method: 'GET',
      path,
      idempotent: true,
      answerStatuses: [503],
      signal: options.signal,
    });
    return res.body;
  }

  /** Liveness. */
  async healthLive(options: CallOptions = {}): Promise<LiveBody> {
    return (await this.#get('health/live', options)) as LiveBody;
  }

  /** Readiness; a not-ready report (HTTP 503) is returned, not thrown. */
  async healthReady(options: CallOptions = {}): Promise<ReadyBody> {
    return (await this.#getReport('health/ready', options)) as ReadyBody;
  }

  /** The Prometheus text exposition. */
  async metrics(options: CallOptions = {}): Promise<string> {
    const res = await this.#request({
      method: 'GET',
      path: 'metrics',
      idempotent: true,
      text: true,
      signal: options.signal,
    });
    return res.body as string;
  }

  // ------------------------------------------------------------------------------------------------------------
  // Events
  // ------------------------------------------------------------------------------------------------------------

  /**
   * The task's transitions as they happen, then one `end` event when it finishes (the iterator then ends).
   * Starts with every transition so far (or those after `lastEventId`). A dropped connection is resumed with
   * `Last-Event-ID`; events seen before are skipped, so each transition is yielded once. Breaking out of the
   * loop closes the connection.
   */
  async *events(taskUuid: string, options: EventsOptions = {}): AsyncGenerator<TaskEvent, void, undefined> {
    const maxReconnects = options.maxReconnectAttempts ?? 10;
    const request: RequestInfo = { method: 'GET', path: `/v1/tasks/${taskUuid}/events` };
    const parser = new SseParser();
    const seen = new Set<string>();
    let lastId = options.lastEventId;
    let failures = 0;
    for (;;) {
      throwIfAborted(options.signal, request);
      let lastError: unknown;
      // One controller per connection: aborted when the caller aborts, the consumer stops, or the stream fails.
      const connection = new AbortController();
      const onAbort = (): void => connection.abort(options.signal?.reason);
      options.signal?.addEventListener('abort', onAbort, { once: true });
      try {
        const response = await this.#openStream(taskUuid, lastId, connection);
        if (response.body === null) {
          throw new TaskerNetworkError('event stream response has no body', request);
        }
        for await (const sse of readSseStream(response.body, parser)) {
          if (sse.event === 'transition') {
            const id = sse.id ?? '';
            // Resumed streams replay a margin of earlier events; each one is delivered once.
            if (id !== '' && seen.has(id)) continue;
            const transition = parseEventData<TransitionBody>(sse.data, request);
            const key = id !== '' ? id : transition.key;
            seen.add(key);
            lastId = key;
            failures = 0;
            yield { type: 'transition', id: key, transition };
          } else if (sse.event === 'end') {
            const end = parseEventData<EventStreamEndBody>(sse.data, request);
            yield { type: 'end', state: end.state };
            return;
          }
          // Other event types are ignored, so the server can add some without breaking clients.
        }
        lastError = new TaskerNetworkError('event stream ended before the task finished', request);
      } catch (e) {
        if (options.signal?.aborted) throw abortError(options.signal, request);
        if (!isReconnectable(e)) throw e;
        lastError = e;
      } finally {
        // Closes the connection when the consumer stops early or the stream failed half-way.
        options.signal?.removeEventListener('abort', onAbort);
        connection.abort();
      }
      failures += 1;
      if (failures > maxReconnects) throw lastError;
      const base = parser.retryMs ?? DEFAULT_SSE_RETRY_MS;
      const retryAfter = lastError instanceof TaskerApiError ? lastError.retryAfterMs : undefined;
      const delay = Math.max(
        retryAfter ?? 0,
        Math.min(this.#retry.maxDelayMs, base * 2 ** Math.max(0, failures - 1)) * (0.5 + Math.random() / 2),
      );
      try {
        await sleep(delay, options.signal);
      } catch {
        throw abortError(options.signal, request);
      }
    }
  }

  /**
   * Waits until the task finishes (complete, error, cancelled, resolved manually) and returns it as read
   * afterwards. Built on {@link events}: `onTransition` sees every transition and `onStep` every step
   * transition, in order, each once, across reconnections. Rejects with {@link TaskerTimeoutError} after
   * `timeoutMs`, with {@link TaskerAbortError} when `signal` aborts.
   */
  async waitForTask(taskUuid: string, options: WaitForTaskOptions = {}): Promise<TaskBody> {
    const controller = new AbortController();
    let timedOut = false;
    const timer =
      options.timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            timedOut = true;
            controller.abort();
          }, options.timeoutMs);
    const onAbort = (): void => controller.abort(options.signal?.reason);
    if (options.signal?.aborted) onAbort();
    else options.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      const events = this.events(taskUuid, {
        signal: controller.signal,
        ...(options.lastEventId === undefined ? {} : { lastEventId: options.lastEventId }),
        ...(options.maxReconnectAttempts === undefined
          ? {}
          : { maxReconnectAttempts: options.maxReconnectAttempts }),
      });
      for await (const event of events) {
        if (event.type === 'end') return await this.getTask(taskUuid, { signal: controller.signal });
        await options.onTransition?.(event.transition);
        if (event.transition.entity === 'step') await options.onStep?.(event.transition);
      }
      throw new TaskerNetworkError('event stream ended without an end event', {
        method: 'GET',
        path: `/v1/tasks/${taskUuid}/events`,
      });
    } catch (e) {
      if (timedOut) {
        throw new TaskerTimeoutError(
          `task ${taskUuid} did not finish within ${options.timeoutMs} ms`,
          options.timeoutMs ?? 0,
          {
            cause: e,
          },
        );
      }
      throw e;
    } finally {
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
    }
  }

  // ------------------------------------------------------------------------------------------------------------
  // Transport
  // ------------------------------------------------------------------------------------------------------------

  async #get(path: string, options: CallOptions, query?: Record<string, QueryValue>): Promise<unknown> {
    return (
      await this.#request({
        method: 'GET',
        path,
        idempotent: true,
        signal: options.signal,
        ...(query ? { query } : {}),
      })
    ).body;
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
  async #request(spec: RequestSpec): Promise<ApiResponse> {
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
  async #openStream(
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

function final<E extends Error>(e: E): E {
  FINAL.add(e);
  return e;
}

function parseEventData<T>(data: string, request: RequestInfo): T {
  try {
    return JSON.parse(data) as T;
  } catch (e) {
    throw final(
      new TaskerNetworkError('the server sent an event whose data is not JSON', request, { cause: e }),
    );
  }
}

/** Connection failures and "try later" answers end one connection of an event stream, not the stream. */
function isReconnectable(e: unknown): boolean {
  if (e instanceof Error && FINAL.has(e)) return false;
  if (e instanceof TaskerUnavailableError || e instanceof TaskerNetworkError) return true;
  // A body that breaks off half-way surfaces as a plain error (e.g. "terminated", ECONNRESET) from the reader.
  return (
    !(e instanceof TaskerApiError) &&
    !(e instanceof TaskerAbortError) &&
    !(e instanceof SyntaxError) &&
    e instanceof Error
  );
}

function abortError(signal: AbortSignal | undefined, info: RequestInfo): TaskerAbortError {
  return new TaskerAbortError(`${info.method} ${info.path} was aborted`, { cause: signal?.reason });
}

function throwIfAborted(signal: AbortSignal | undefined, info: RequestInfo): void {
  if (signal?.aborted) throw abortError(signal, info);
}
