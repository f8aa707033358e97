import { Aborter } from './aborter.js';
import { batchContextOf, type CheckpointData } from './dynamic.js';
import type { Logger } from 'pino';
import { HandlerBackpressureError, TaskerError, coerceError, handlerErrorKind } from '../errors.js';
import { computeRetryDelayMs } from './backoff.js';
import type { ClaimedStep, StepResultRecord } from './claimed-step.js';
import type { HandlerDefinition, HandlerRegistry, ThreadStepContext } from './handler.js';
import type { HandlerThreadPool } from './thread-pool.js';
import { capRecordedError, DEFAULT_ERROR_LIMITS, type ErrorLimits } from './error-record.js';
import { DEFAULT_MAX_JSON_DEPTH, valueExceedsDepth } from '../json-depth.js';
import { stepLogger } from '../observability/logger.js';
import { FAILURE_CODES, FAILURE_NAMES } from '../contract/names.js';

/** Raised into a handler's signal when its time is up. */
export class HandlerTimeoutError extends Error {
  constructor(readonly timeoutMs: number) {
    super(`handler timed out after ${timeoutMs} ms`);
    this.name = 'HandlerTimeoutError';
  }
}

function failure(
  step: ClaimedStep,
  error: Error,
  base: StepResultRecord['metadata'],
  opts: { retryable: boolean; code?: string; retryAfterMs?: number },
): StepResultRecord {
  const retryable = opts.retryable && step.retryable && step.attempt < step.maxAttempts;
  const record: StepResultRecord = {
    success: false,
    result: null,
    error: {
      name: error.name,
      message: error.message,
      retryable: opts.retryable,
      ...(opts.code ? { code: opts.code } : {}),
      ...(error.stack ? { stack: error.stack } : {}),
      ...(opts.retryAfterMs !== undefined ? { retry_after_ms: opts.retryAfterMs } : {}),
    },
    metadata: base,
  };
  if (retryable) {
    record.retry_delay_ms = computeRetryDelayMs(step.retryPolicy, step.attempt, opts.retryAfterMs);
  }
  return record;
}

/**
 * The outcome of an attempt stopped from outside: the task was cancelled (refused anyway: the step is already
 * `cancelled`), or the worker shuts down (never written: the worker hands the step back).
 */
function stoppedRecord(
  step: ClaimedStep,
  reason: unknown,
  cancelled: boolean,
  base: StepResultRecord['metadata'],
): StepResultRecord {
  const err = coerceError(reason);
  return cancelled
    ? failure(step, err, base, { retryable: false, code: FAILURE_CODES.TaskCancelled })
    : failure(step, err, base, { retryable: true, code: FAILURE_CODES.WorkerShutdown });
}

/** What one attempt of a step came to. */
export interface StepRunOutcome {
  record: StepResultRecord;
  /** Settles once the handler has really stopped (after a timeout it may still be running). */
  settled: Promise<unknown>;
  /** True when `settled` already has: the handler returned or threw, or never ran (nothing to wait for). */
  handlerStopped?: boolean;
  /**
   * Set when the thread pool refused the step because it is full: the handler never started and no attempt was
   * used, so the caller should hand the step back for later instead of recording `record`.
   */
  backpressure?: HandlerBackpressureError;
}

/** The step context without signal, logger and checkpoint: what a thread handler gets (it is cloneable). */
function plainContext(step: ClaimedStep): Omit<ThreadStepContext, 'workerId'> {
  const batch = batchContextOf(step.inputs, step.checkpoint);
  return {
    taskUuid: step.taskUuid,
    stepUuid: step.stepUuid,
    stepName: step.stepName,
    namespace: step.namespace,
    templateName: step.templateName,
    templateVersion: step.templateVersion,
    correlationId: step.correlationId,
    context: step.context,
    inputs: step.inputs,
    dependencyResults: step.dependencyResults,
    attempt: step.attempt,
    maxAttempts: step.maxAttempts,
    ...(batch ? { batch } : {}),
  };
}

/** What {@link runStep} needs besides the step and the handler registry. */
export interface StepRunOptions {
  workerId: string;
  defaultTimeoutMs: number;
  logger: Logger;
  /** Aborted when the worker's shutdown grace period is over. */
  shutdown: Aborter;
  /** Aborted when the step's task is cancelled. */
  cancel?: Aborter | undefined;
  /** Runs thread handlers; a thread handler without a pool fails permanently. */
  threadPool?: HandlerThreadPool | undefined;
  /** Saves a batch worker's checkpoint for this attempt (`ctx.checkpoint`). */
  saveCheckpoint?: (step: ClaimedStep, data: CheckpointData) => Promise<boolean>;
  /** Caps of the recorded error (`worker.errors`); {@link DEFAULT_ERROR_LIMITS} when omitted. */
  errorLimits?: ErrorLimits;
  /** Deepest nesting accepted in a result (`worker.max_result_depth`); 128 when omitted. */
  maxResultDepth?: number;
}

type Meta = () => StepResultRecord['metadata'];

/** An outcome recorded without running the handler (nothing to wait for). */
function immediate(
  record: StepResultRecord,
  extra?: { backpressure?: HandlerBackpressureError },
): StepRunOutcome {
  return { record, settled: Promise.resolve(), handlerStopped: true, ...extra };
}

/**
 * Hands a thread handler to the pool. A full pool refuses it at once (before any timer or listener exists), and
 * a missing pool is a permanent failure: either way the outcome is returned instead of a running handler.
 */
function submitToThread(
  step: ClaimedStep,
  name: string,
  thread: NonNullable<HandlerDefinition['thread']>,
  options: StepRunOptions,
  signal: AbortSignal,
  meta: Meta,
): { run: Promise<unknown> } | { outcome: StepRunOutcome } {
  if (!options.threadPool) {
    const err = new Error(`thread handler '${name}' needs a thread pool, and this runner has none`);
    err.name = FAILURE_NAMES.ThreadPoolUnavailable;
    return {
      outcome: immediate(
        failure(step, err, meta(), { retryable: false, code: FAILURE_CODES.ThreadPoolUnavailable }),
      ),
    };
  }
  try {
    const context = { ...plainContext(step), workerId: options.workerId };
    return { run: options.threadPool.run(name, thread, context, signal) };
  } catch (e) {
    const err = coerceError(e);
    const code = TaskerError.is(err) ? err.code : undefined;
    const record = failure(step, err, meta(), { retryable: true, ...(code ? { code } : {}) });
    return { outcome: immediate(record, HandlerBackpressureError.is(err) ? { backpressure: err } : {}) };
  }
}

/** Calls an event-loop handler with its full context (lazy signal and logger, checkpoint). */
function startOnEventLoop(
  step: ClaimedStep,
  handler: HandlerDefinition,
  options: StepRunOptions,
  attempt: Aborter,
): Promise<unknown> {
  let ctxLogger: Logger | undefined;
  // Wrapped so that a handler that throws synchronously becomes a rejected promise like any other failure.
  return Promise.resolve().then(() =>
    handler.fn({
      ...plainContext(step),
      // Made on first use, like the logger: most handlers never look at their signal.
      get signal() {
        return attempt.signal;
      },
      // Built on first use: most handlers never log, and the step path pays for nothing it does not use.
      get logger() {
        return (ctxLogger ??= stepLogger(options.logger, step));
      },
      checkpoint: (data: CheckpointData) => {
        if (!data || typeof data !== 'object' || !Number.isInteger(data.cursor)) {
          return Promise.reject(new TypeError('ctx.checkpoint needs { cursor: <whole number>, ... }'));
        }
        if (!options.saveCheckpoint) return Promise.resolve(false);
        return options.saveCheckpoint(step, data);
      },
    }),
  );
}

/**
 * Ties the attempt's aborter to the worker's shutdown, the task's cancellation and the timeout, and returns
 * what settles the attempt early: `timedOut` when the time is up, `stopped` when shutdown or cancellation
 * aborted it (whether or not the handler honours its signal). `dispose` removes the timer and listeners.
 */
function watchAttempt(
  attempt: Aborter,
  timeoutMs: number,
  options: StepRunOptions,
): { timedOut: Promise<'timeout'>; stopped: Promise<'stopped'>; dispose: () => void } {
  const abort = (reason: unknown): void => attempt.abort(reason);
  const offShutdown = options.shutdown.onAbort(abort);
  const offCancel = options.cancel?.onAbort(abort);

  let timer: ReturnType<typeof setTimeout> | undefined;
  const timedOut = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => {
      attempt.abort(new HandlerTimeoutError(timeoutMs));
      resolve('timeout');
    }, timeoutMs);
  });
  const stopped = new Promise<'stopped'>((resolve) => {
    attempt.onAbort((reason) => {
      if (!(reason instanceof HandlerTimeoutError)) resolve('stopped');
    });
  });
  const dispose = (): void => {
    clearTimeout(timer);
    offShutdown();
    offCancel?.();
  };
  return { timedOut, stopped, dispose };
}

/** The record of a handler's return value: a success, unless the value cannot be stored as JSON. */
function returnedRecord(
  step: ClaimedStep,
  returned: unknown,
  options: StepRunOptions,
  meta: Meta,
): StepResultRecord {
  const value = returned === undefined ? null : returned;
  const maxDepth = options.maxResultDepth ?? DEFAULT_MAX_JSON_DEPTH;
  // Before stringifying: a result nested thousands deep overflows JSON.stringify and PostgreSQL's jsonb parser.
  if (valueExceedsDepth(value, maxDepth)) {
    const err = new Error(`handler result nests deeper than ${maxDepth} levels (worker.max_result_depth)`);
    err.name = FAILURE_NAMES.ResultTooDeep;
    return failure(step, err, meta(), { retryable: false, code: FAILURE_CODES.ResultTooDeep });
  }
  try {
    JSON.stringify(value);
  } catch (e) {
    const err = new Error(`handler result is not JSON-serializable: ${coerceError(e).message}`);
    err.name = FAILURE_NAMES.ResultNotSerializable;
    return failure(step, err, meta(), { retryable: false, code: FAILURE_CODES.ResultNotSerializable });
  }
  return { success: true, result: value, metadata: meta() };
}

/**
 * The record of a handler that threw (or rejected): the error's own verdict (permanent or retryable, by brand)
 * first, then why its signal was aborted (task cancelled, worker shutdown), and retryable otherwise.
 */
function thrownRecord(
  step: ClaimedStep,
  err: Error,
  aborted: boolean,
  options: StepRunOptions,
  meta: Meta,
): StepResultRecord {
  // By brand, not class: the handler may have thrown another copy's PermanentError / RetryableError.
  const verdict = handlerErrorKind(err);
  if (verdict.kind === 'permanent') {
    return failure(step, err, meta(), { retryable: false, ...(verdict.code ? { code: verdict.code } : {}) });
  }
  if (verdict.kind === 'retryable') {
    return failure(step, err, meta(), {
      retryable: true,
      ...(verdict.code ? { code: verdict.code } : {}),
      ...(verdict.retryAfterMs !== undefined ? { retryAfterMs: verdict.retryAfterMs } : {}),
    });
  }
  if (aborted && options.cancel?.aborted) {
    // The task was cancelled: the step is already `cancelled`, so this outcome will be refused anyway.
    return failure(step, err, meta(), { retryable: false, code: FAILURE_CODES.TaskCancelled });
  }
  if (aborted && options.shutdown.aborted) {
    return failure(step, err, meta(), { retryable: true, code: FAILURE_CODES.WorkerShutdown });
  }
  return failure(step, err, meta(), { retryable: true });
}

/**
 * Runs one attempt of a claimed step and turns whatever happens into a result record; it never throws.
 * A timeout aborts the handler's signal and records a retryable HANDLER_TIMEOUT failure without waiting for a
 * handler that ignores its signal (the caller still waits for it before freeing the handler slot).
 * Handlers made with `defineThreadHandler` run in `threadPool`; their signal terminates the thread running them.
 */
async function runAttempt(
  step: ClaimedStep,
  registry: HandlerRegistry,
  options: StepRunOptions,
): Promise<StepRunOutcome> {
  const startedAt = new Date();
  const started = performance.now();
  const meta: Meta = () => ({
    attempt: step.attempt,
    worker_id: options.workerId,
    started_at: startedAt.toISOString(),
    execution_time_ms: Math.round((performance.now() - started) * 1000) / 1000,
  });

  const handler = registry.get(step.handler);
  if (!handler) {
    const err = new Error(
      `no handler named '${step.handler}' is registered in worker ${options.workerId} (step '${step.stepName}')`,
    );
    err.name = FAILURE_NAMES.HandlerNotFound;
    return immediate(failure(step, err, meta(), { retryable: false, code: FAILURE_CODES.HandlerNotFound }));
  }

  const timeoutMs = step.timeoutMs ?? options.defaultTimeoutMs;
  const attempt = new Aborter();
  // A thread handler is submitted first: a full pool refuses it at once, before any timer or listener exists.
  let threadRun: Promise<unknown> | undefined;
  if (handler.thread) {
    const submitted = submitToThread(step, handler.name, handler.thread, options, attempt.signal, meta);
    if ('outcome' in submitted) return submitted.outcome;
    threadRun = submitted.run;
  }
  const { timedOut, stopped, dispose } = watchAttempt(attempt, timeoutMs, options);
  const run = threadRun ?? startOnEventLoop(step, handler, options, attempt);
  const settled = run.then(
    () => undefined,
    () => undefined,
  );

  try {
    const outcome = await Promise.race([run.then((value) => ({ value })), timedOut, stopped]);
    if (outcome === 'stopped') {
      const cancelled = options.cancel?.aborted === true;
      return { record: stoppedRecord(step, attempt.reason, cancelled, meta()), settled };
    }
    if (outcome === 'timeout') {
      const err = new HandlerTimeoutError(timeoutMs);
      return {
        record: failure(step, err, meta(), { retryable: true, code: FAILURE_CODES.HandlerTimeout }),
        settled,
      };
    }
    return { record: returnedRecord(step, outcome.value, options, meta), settled, handlerStopped: true };
  } catch (thrown) {
    const err = coerceError(thrown);
    if (HandlerBackpressureError.is(err)) {
      // Refused by the pool after submission (its own bound): the handler never ran.
      return {
        record: failure(step, err, meta(), { retryable: true, code: err.code }),
        settled,
        backpressure: err,
      };
    }
    return {
      record: thrownRecord(step, err, attempt.aborted, options, meta),
      settled,
      handlerStopped: true,
    };
  } finally {
    dispose();
  }
}

/**
 * Runs one attempt of a claimed step (see {@link runAttempt}) and caps the recorded error's message and stack
 * (`worker.errors`), so every failure path, engine-made or handler-thrown, is stored within the same limits.
 */
export async function runStep(
  step: ClaimedStep,
  registry: HandlerRegistry,
  options: StepRunOptions,
): Promise<StepRunOutcome> {
  const outcome = await runAttempt(step, registry, options);
  return {
    ...outcome,
    record: capRecordedError(outcome.record, options.errorLimits ?? DEFAULT_ERROR_LIMITS),
  };
}
