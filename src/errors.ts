/**
 * The closed error taxonomy of Tasker. Every error a user can see is a {@link TaskerError} with a stable
 * `code`; the message says what went wrong and, where possible, what to do about it.
 */

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
  HandlerNotFound: 'HANDLER_NOT_FOUND',
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
  /** An awaited task was cancelled (see {@link TaskCancelledError}). */
  TaskCancelled: 'TASK_CANCELLED',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** Base class of every Tasker error. */
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
}

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

/** A template failed to parse or validate. `issues` lists every problem, not just the first. */
export class TemplateValidationError extends TaskerError {
  readonly issues: readonly ValidationIssue[];
  constructor(summary: string, issues: readonly ValidationIssue[]) {
    super(ErrorCode.TemplateInvalid, `${summary}\n${formatIssues(issues)}`, { details: { issues } });
    this.issues = issues;
  }
}

/** A state transition was attempted that the state machine does not allow. */
export class InvalidTransitionError extends TaskerError {
  constructor(entity: 'task' | 'step', from: string, to: string) {
    super(ErrorCode.InvalidTransition, `${entity} cannot move from '${from}' to '${to}'`, {
      details: { entity, from, to },
    });
  }
}

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

/** Thrown by a step handler to fail the step at once, with no retry. */
export class PermanentError extends Error {
  readonly code: string | undefined;
  constructor(message: string, options?: { code?: string; cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'PermanentError';
    this.code = options?.code;
  }
}

/** Thrown by a step handler to ask for a retry, optionally after a given delay. */
export class RetryableError extends Error {
  readonly retryAfterMs: number | undefined;
  readonly code: string | undefined;
  constructor(message: string, options?: { retryAfterMs?: number; code?: string; cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'RetryableError';
    this.retryAfterMs = options?.retryAfterMs;
    this.code = options?.code;
  }
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
