/**
 * The closed error taxonomy of Tasker. Every error a user can see is a {@link TaskerError} with a stable
 * `code`; the message says what went wrong and, where possible, what to do about it.
 */
import { FAILURE_CODES } from './contract/names.js';

/** Stable error codes. Adding a code is a public API change. */
export const ErrorCode = {
  ConfigInvalid: 'CONFIG_INVALID',
  TemplateInvalid: 'TEMPLATE_INVALID',
  TemplateNotFound: 'TEMPLATE_NOT_FOUND',
  TemplateConflict: 'TEMPLATE_CONFLICT',
  QueueNotFound: 'QUEUE_NOT_FOUND',
  TaskInvalid: 'TASK_INVALID',
  TaskNotFound: 'TASK_NOT_FOUND',
  StepNotFound: 'STEP_NOT_FOUND',
  DlqEntryNotFound: 'DLQ_ENTRY_NOT_FOUND',
  TaskDuplicate: 'TASK_DUPLICATE',
  InvalidTransition: 'INVALID_TRANSITION',
  TransitionConflict: 'TRANSITION_CONFLICT',
  /** A step's handler is not registered (also the failure code recorded for such a step). */
  HandlerNotFound: FAILURE_CODES.HandlerNotFound,
  ChannelClosed: 'CHANNEL_CLOSED',
  ChannelFull: 'CHANNEL_FULL',
  Timeout: 'TIMEOUT',
  Database: 'DATABASE_ERROR',
  /**
   * The database canceled a statement: it ran longer than `common.database.statement_timeout_ms` (or was
   * canceled on the server). An answer about that statement, not an outage: nothing it would have written was
   * kept, and the database is reachable.
   */
  DatabaseTimeout: 'DATABASE_TIMEOUT',
  MigrationFailed: 'MIGRATION_FAILED',
  ShuttingDown: 'SHUTTING_DOWN',
  /** A circuit breaker is open: the dependency is considered down; retry later. */
  CircuitOpen: 'CIRCUIT_OPEN',
  /** The REST API answered with an error (see the error's API code). */
  ApiError: 'API_ERROR',
  /** The REST API could not be reached. */
  NetworkError: 'NETWORK_ERROR',
  /** The caller aborted the operation. */
  Aborted: 'ABORTED',
  /** The worker-thread pool for thread handlers is full (threads busy and its queue at `max_queue`). */
  HandlerBackpressure: 'HANDLER_BACKPRESSURE',
  /** An awaited task finished in `error` (see {@link TaskFailedError}). */
  TaskFailed: 'TASK_FAILED',
  /**
   * An awaited task was cancelled (see {@link TaskCancelledError}); also the failure code recorded for a step whose
   * handler its task's cancellation stopped.
   */
  TaskCancelled: FAILURE_CODES.TaskCancelled,
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/**
 * The registered symbol that marks Tasker's error classes. Each class's prototype carries its stable brand name
 * under it, so an error is recognised by its prototype chain's brands rather than by class identity: an
 * application can end up with two copies of this package (a handlers module importing the built package while
 * the worker runs another copy), and `instanceof` against the other copy's class would then be false.
 * `Symbol.for` gives every copy, and every thread, the same symbol.
 */
export const ERROR_BRAND: unique symbol = Symbol.for('tasker.error') as never;

/** A class constructor, for the brand helpers. */
type AnyClass = abstract new (...args: never[]) => unknown;

/** True when `value`'s prototype chain carries the brand `name` (from any copy of this package). */
function carriesBrand(value: unknown, name: string): boolean {
  if (value === null || (typeof value !== 'object' && typeof value !== 'function')) return false;
  for (let p: unknown = Object.getPrototypeOf(value); p !== null; p = Object.getPrototypeOf(p)) {
    if (Object.hasOwn(p as object, ERROR_BRAND) && (p as Record<symbol, unknown>)[ERROR_BRAND] === name) {
      return true;
    }
  }
  return false;
}

/**
 * `instanceof` for branded classes: the class's own prototype chain first (cheap, and right for unbranded
 * subclasses), then the brand, so that an error made by another copy of this package still matches.
 */
function brandedHasInstance(cls: AnyClass, value: unknown): boolean {
  if (Function.prototype[Symbol.hasInstance].call(cls, value)) return true;
  const proto = cls.prototype as Record<symbol, unknown>;
  const name = Object.hasOwn(proto, ERROR_BRAND) ? proto[ERROR_BRAND] : undefined;
  return typeof name === 'string' && carriesBrand(value, name);
}

/**
 * Marks `cls` with the stable brand `name` (its public class name). Only Tasker's own classes are branded;
 * a subclass an application defines keeps plain `instanceof` semantics. @internal
 */
export function brandErrorClass(cls: AnyClass, name: string): void {
  Object.defineProperty(cls.prototype, ERROR_BRAND, { value: name, enumerable: false });
}

/** Base class of every Tasker error. `instanceof` and {@link TaskerError.is} also match other copies' errors. */
export class TaskerError extends Error {
  readonly code: ErrorCode;
  readonly details: Record<string, unknown> | undefined;

  constructor(
    code: ErrorCode,
    message: string,
    options?: { cause?: unknown; details?: Record<string, unknown> },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.details = options?.details;
  }

  /** Matches instances of this class made by any copy of this package (see {@link ERROR_BRAND}). */
  static override [Symbol.hasInstance](value: unknown): boolean {
    return brandedHasInstance(this, value);
  }

  /** Type guard: `value` is an instance of the class it is called on, from any copy of this package. */
  static is<C extends AnyClass>(this: C, value: unknown): value is InstanceType<C> {
    return brandedHasInstance(this, value);
  }
}
brandErrorClass(TaskerError, 'TaskerError');

/** One problem found while validating configuration or a template, with where it was found. */
export interface ValidationIssue {
  /** Dotted path of the offending key, e.g. `worker.max_concurrent_handlers` or `steps[2].depends_on`. */
  path: string;
  message: string;
  /** File (or other source) the value came from, when known. */
  source?: string;
  /** 1-based line in `source`, when known. */
  line?: number;
}

function formatIssues(issues: readonly ValidationIssue[]): string {
  return issues
    .map((i) => {
      const where = i.source ? ` (${i.source}${i.line ? `:${i.line}` : ''})` : '';
      return `  - ${i.path || '<root>'}: ${i.message}${where}`;
    })
    .join('\n');
}

/** Configuration failed to load or validate. */
export class ConfigError extends TaskerError {
  readonly issues: readonly ValidationIssue[];
  constructor(summary: string, issues: readonly ValidationIssue[] = [], options?: { cause?: unknown }) {
    super(ErrorCode.ConfigInvalid, issues.length ? `${summary}\n${formatIssues(issues)}` : summary, options);
    this.issues = issues;
  }
}
brandErrorClass(ConfigError, 'ConfigError');

/** A template failed to parse or validate. `issues` lists every problem, not just the first. */
export class TemplateValidationError extends TaskerError {
  readonly issues: readonly ValidationIssue[];
  constructor(summary: string, issues: readonly ValidationIssue[]) {
    super(ErrorCode.TemplateInvalid, `${summary}\n${formatIssues(issues)}`, { details: { issues } });
    this.issues = issues;
  }
}
brandErrorClass(TemplateValidationError, 'TemplateValidationError');

/** A state transition was attempted that the state machine does not allow. */
export class InvalidTransitionError extends TaskerError {
  constructor(entity: 'task' | 'step', from: string, to: string) {
    super(ErrorCode.InvalidTransition, `${entity} cannot move from '${from}' to '${to}'`, {
      details: { entity, from, to },
    });
  }
}
brandErrorClass(InvalidTransitionError, 'InvalidTransitionError');

/**
 * A compare-and-swap transition lost a race: the entity was no longer in the expected state.
 * Callers treat this as "someone else already did it" and move on.
 */
export class TransitionConflictError extends TaskerError {
  constructor(entity: 'task' | 'step', id: string, expected: string, actual: string | null) {
    super(
      ErrorCode.TransitionConflict,
      `${entity} ${id} was expected in state '${expected}' but ${actual === null ? 'another writer moved it first' : `is '${actual}'`}`,
      { details: { entity, id, expected, actual } },
    );
  }
}
brandErrorClass(TransitionConflictError, 'TransitionConflictError');

/**
 * The handler runtime channel (the worker-thread pool's queue) is full: the submission was refused instead of
 * queueing without bound. The step never started, so no attempt was used; the worker hands it back for later.
 */
export class HandlerBackpressureError extends TaskerError {
  constructor(handler: string, limits: { maxThreads: number; maxQueue: number; pending: number }) {
    super(
      ErrorCode.HandlerBackpressure,
      `thread pool full: handler '${handler}' refused (${limits.pending} tasks pending, ` +
        `${limits.maxThreads} threads + queue of ${limits.maxQueue}); retry later or raise worker.thread_pool.max_queue`,
      { details: { handler, ...limits } },
    );
  }
}
brandErrorClass(HandlerBackpressureError, 'HandlerBackpressureError');

/**
 * Thrown by a step handler to fail the step at once, with no retry. Recognised by its brand, so a handlers module
 * may import its own copy of this package; an error with `name === 'PermanentError'` or `retryable === false`
 * counts too (see {@link handlerErrorKind}).
 */
export class PermanentError extends Error {
  readonly code: string | undefined;
  constructor(message: string, options?: { code?: string; cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'PermanentError';
    this.code = options?.code;
  }

  /** Matches instances made by any copy of this package. */
  static override [Symbol.hasInstance](value: unknown): boolean {
    return brandedHasInstance(this, value);
  }

  /** Type guard: `value` is a `PermanentError` from any copy of this package. */
  static is(value: unknown): value is PermanentError {
    return brandedHasInstance(PermanentError, value);
  }
}
brandErrorClass(PermanentError, 'PermanentError');

/**
 * Thrown by a step handler to ask for a retry, optionally after a given delay. Recognised by its brand like
 * {@link PermanentError}.
 */
export class RetryableError extends Error {
  readonly retryAfterMs: number | undefined;
  readonly code: string | undefined;
  constructor(message: string, options?: { retryAfterMs?: number; code?: string; cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'RetryableError';
    this.retryAfterMs = options?.retryAfterMs;
    this.code = options?.code;
  }

  /** Matches instances made by any copy of this package. */
  static override [Symbol.hasInstance](value: unknown): boolean {
    return brandedHasInstance(this, value);
  }

  /** Type guard: `value` is a `RetryableError` from any copy of this package. */
  static is(value: unknown): value is RetryableError {
    return brandedHasInstance(RetryableError, value);
  }
}
brandErrorClass(RetryableError, 'RetryableError');

/** How the worker treats an error a handler threw. */
export interface HandlerErrorVerdict {
  kind: 'permanent' | 'retryable' | 'error';
  /** The error's own `code`, when it is a string. */
  code?: string;
  /** A retry delay asked for by a retryable error (a finite, non-negative number of ms). */
  retryAfterMs?: number;
}

/**
 * Classifies what a handler threw, the same way in the worker's own thread and in handler threads: a branded
 * {@link PermanentError} (from any copy of this package), or any error named `PermanentError` or carrying
 * `retryable: false`, is permanent; a branded {@link RetryableError}, one named `RetryableError` or carrying
 * `retryable: true`, is retryable, with its `retryAfterMs`; anything else is an ordinary (retried) failure. The
 * name convention lets handler code that cannot import Tasker at all still say what it means.
 */
export function handlerErrorKind(err: unknown): HandlerErrorVerdict {
  if (err === null || typeof err !== 'object') return { kind: 'error' };
  const e = err as { name?: unknown; code?: unknown; retryable?: unknown; retryAfterMs?: unknown };
  const kind =
    PermanentError.is(err) || e.name === 'PermanentError' || e.retryable === false
      ? 'permanent'
      : RetryableError.is(err) || e.name === 'RetryableError' || e.retryable === true
        ? 'retryable'
        : 'error';
  const verdict: HandlerErrorVerdict = { kind };
  if (typeof e.code === 'string') verdict.code = e.code;
  if (
    kind === 'retryable' &&
    typeof e.retryAfterMs === 'number' &&
    Number.isFinite(e.retryAfterMs) &&
    e.retryAfterMs >= 0
  ) {
    verdict.retryAfterMs = e.retryAfterMs;
  }
  return verdict;
}

/** Turns anything thrown into an `Error`, so every catch boundary deals with one type. */
export function coerceError(thrown: unknown): Error {
  if (thrown instanceof Error) return thrown;
  if (typeof thrown === 'string') return new Error(thrown);
  try {
    return new Error(`Non-error thrown: ${JSON.stringify(thrown)}`);
  } catch {
    return new Error(`Non-error thrown: ${String(thrown)}`);
  }
}

/** A step of a failed task, as {@link TaskFailedError} reports it. */
export interface FailedStep {
  stepUuid: string;
  name: string;
  /** Attempts made, the failing one included. */
  attempts: number;
  /** The step's last error as its handler (or the engine) recorded it; null when none was recorded. */
  error: { name?: string; message: string; code?: string; retryable?: boolean; stack?: string } | null;
}

/**
 * An awaited task finished in `error`: `failedSteps` lists every step in `error` with its last error, and
 * `taskError` the task's own error when the engine failed it (e.g. found stuck), which may have no failed step.
 */
export class TaskFailedError extends TaskerError {
  readonly taskUuid: string;
  readonly failedSteps: readonly FailedStep[];
  readonly taskError: unknown;

  constructor(taskUuid: string, failedSteps: readonly FailedStep[], taskError: unknown = null) {
    const first = failedSteps[0];
    const why = first
      ? `step '${first.name}' failed: ${first.error?.message ?? 'no error recorded'}` +
        (failedSteps.length > 1 ? ` (and ${failedSteps.length - 1} more)` : '')
      : 'the engine failed it';
    super(ErrorCode.TaskFailed, `task ${taskUuid} failed: ${why}`, {
      details: { task_uuid: taskUuid, failed_steps: failedSteps, task_error: taskError },
    });
    this.taskUuid = taskUuid;
    this.failedSteps = failedSteps;
    this.taskError = taskError;
  }
}

/** An awaited task was cancelled (by an operator or `cancelTask`). `failedSteps` lists steps that had failed. */
export class TaskCancelledError extends TaskerError {
  readonly taskUuid: string;
  readonly failedSteps: readonly FailedStep[];

  constructor(taskUuid: string, failedSteps: readonly FailedStep[] = []) {
    super(ErrorCode.TaskCancelled, `task ${taskUuid} was cancelled`, {
      details: { task_uuid: taskUuid, failed_steps: failedSteps },
    });
    this.taskUuid = taskUuid;
    this.failedSteps = failedSteps;
  }
}
