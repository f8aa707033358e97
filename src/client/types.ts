/**
 * The public option and result types of `TaskerClient`: what its calls take and give beyond the API's
 * wire types (which come from `src/api/schemas.ts`, imported as types only).
 */
import type {
  EventStreamEndBody,
  ListDlqQuery,
  ListTasksQuery,
  StepActionBody,
  TaskBody,
  TemplateValidationBody,
  TransitionBody,
  ValidationIssueBody,
} from '../api/schemas.js';
import type { RetryOptions } from './retry.js';

/** The `fetch` function the client calls (the global one unless given). */
export type FetchFn = (input: string | URL, init?: RequestInit) => Promise<Response>;

/** Options of `TaskerClient`. */
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

/** Query of `TaskerClient.listTasks`: every field optional (`limit` defaults to 50 on the server). */
export type TaskListQuery = Partial<ListTasksQuery>;
/** Query of `TaskerClient.listDlq`. */
export type DlqListQuery = Partial<ListDlqQuery>;
/** The reason (and optionally who) of an operator action on a step. */
export type StepActionOptions = Pick<StepActionBody, 'reason' | 'by'>;
/** The result stored by `TaskerClient.completeManually`: any JSON value. */
export type ManualResult = Extract<StepActionBody, { action_type: 'complete_manually' }>['result'];
/** A task state as the API names it. */
export type TaskStateName = EventStreamEndBody['state'];

/** Result of `TaskerClient.createTask`. */
export interface CreateTaskResult {
  task: TaskBody;
  /** False when an idempotency key matched an existing task, which is returned instead (HTTP 200). */
  created: boolean;
}

/** Result of `TaskerClient.validateTemplate`. */
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

/** Options of `TaskerClient.events`. */
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

/** Options of `TaskerClient.waitForTask`. */
export interface WaitForTaskOptions extends EventsOptions {
  /** Called for every step transition, in stream order; awaited. */
  onStep?: (transition: TransitionBody) => void | Promise<void>;
  /** Called for every transition (task and step), in stream order; awaited. */
  onTransition?: (transition: TransitionBody) => void | Promise<void>;
  /** Rejects with {@link TaskerTimeoutError} when the task has not finished within this many ms. */
  timeoutMs?: number;
}
