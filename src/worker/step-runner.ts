import { batchContextOf, type CheckpointData } from './dynamic.js';
import type { Logger } from 'pino';
import { HandlerBackpressureError, TaskerError, coerceError, handlerErrorKind } from '../errors.js';
import { computeRetryDelayMs } from './backoff.js';
import type { ClaimedStep, StepResultRecord } from './claimed-step.js';
import type { HandlerRegistry, ThreadStepContext } from './handler.js';
import type { HandlerThreadPool } from './thread-pool.js';
import { capRecordedError, DEFAULT_ERROR_LIMITS, type ErrorLimits } from './error-record.js';
import { DEFAULT_MAX_JSON_DEPTH, valueExceedsDepth } from '../json-depth.js';
import { stepLogger } from '../observability/logger.js';

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
    ? failure(step, err, base, { retryable: false, code: 'TASK_CANCELLED' })
    : failure(step, err, base, { retryable: true, code: 'WORKER_SHUTDOWN' });
}

/** What one attempt of a step came to. */
export interface StepRunOutcome {
  record: StepResultRecord;
  /** Settles once the handler has really stopped (after a timeout it may still be running). */
  settled: Promise<unknown>;
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

/**
 * Runs one attempt of a claimed step and turns whatever happens into a result record; it never throws.
 * A timeout aborts the handler's signal and records a retryable HANDLER_TIMEOUT failure without waiting for a
 * handler that ignores its signal (the caller still waits for it before freeing the handler slot).
 * Handlers made with `defineThreadHandler` run in `threadPool`; their signal terminates the thread running them.
 */
async function runAttempt(
  step: ClaimedStep,
  registry: HandlerRegistry,
  options: {
    workerId: string;
    defaultTimeoutMs: number;
    logger: Logger;
    shutdownSignal: AbortSignal;
    /** Fires when the step's task is cancelled. */
    cancelSignal?: AbortSignal;
    /** Runs thread handlers; a thread handler without a pool fails permanently. */
    threadPool?: HandlerThreadPool | undefined;
    /** Saves a batch worker's checkpoint for this attempt (`ctx.checkpoint`). */
    saveCheckpoint?: (step: ClaimedStep, data: CheckpointData) => Promise<boolean>;
    /** Caps of the recorded error (`worker.errors`); {@link DEFAULT_ERROR_LIMITS} when omitted. */
    errorLimits?: ErrorLimits;
    /** Deepest nesting accepted in a result (`worker.max_result_depth`); 128 when omitted. */
    maxResultDepth?: number;
  },
): Promise<StepRunOutcome> {
  const startedAt = new Date();
  const started = performance.now();
  const meta = (): StepResultRecord['metadata'] => ({
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
    err.name = 'HandlerNotFound';
    return {
      record: failure(step, err, meta(), { retryable: false, code: 'HANDLER_NOT_FOUND' }),
      settled: Promise.resolve(),
    };
  }

  const timeoutMs = step.timeoutMs ?? options.defaultTimeoutMs;
  const controller = new AbortController();

  // A thread handler is submitted first: a full pool refuses it at once, before any timer or listener exists.
  let threadRun: Promise<unknown> | undefined;
  if (handler.thread) {
    if (!options.threadPool) {
      const err = new Error(`thread handler '${handler.name}' needs a thread pool, and this runner has none`);
      err.name = 'ThreadPoolUnavailable';
      return {
        record: failure(step, err, meta(), { retryable: false, code: 'THREAD_POOL_UNAVAILABLE' }),
        settled: Promise.resolve(),
      };
    }
    try {
      threadRun = options.threadPool.run(
        handler.name,
        handler.thread,
        { ...plainContext(step), workerId: options.workerId },
        controller.signal,
      );
    } catch (e) {
      const err = coerceError(e);
      const code = TaskerError.is(err) ? err.code : undefined;
      return {
        record: failure(step, err, meta(), { retryable: true, ...(code ? { code } : {}) }),
        settled: Promise.resolve(),
        ...(HandlerBackpressureError.is(err) ? { backpressure: err } : {}),
      };
    }
  }
  const onShutdown = (): void => controller.abort(options.shutdownSignal.reason);
  if (options.shutdownSignal.aborted) onShutdown();
  else options.shutdownSignal.addEventListener('abort', onShutdown, { once: true });
  const cancelSignal = options.cancelSignal;
  const onCancel = (): void => controller.abort(cancelSignal?.reason);
  if (cancelSignal?.aborted) onCancel();
  else cancelSignal?.addEventListener('abort', onCancel, { once: true });

  let timer: ReturnType<typeof setTimeout> | undefined;
  const timedOut = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => {
      controller.abort(new HandlerTimeoutError(timeoutMs));
      resolve('timeout');
    }, timeoutMs);
  });

  let ctxLogger: Logger | undefined;
  // Wrapped so that a handler that throws synchronously becomes a rejected promise like any other failure.
  const run =
    threadRun ??
    Promise.resolve().then(() =>
      handler.fn({
        ...plainContext(step),
        signal: controller.signal,
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
  const settled = run.then(
    () => undefined,
    () => undefined,
  );

  // Shutdown or cancellation settles the attempt at once, whether or not the handler honours its signal.
  const stopped = new Promise<'stopped'>((resolve) => {
    const onAbort = (): void => {
      if (!(controller.signal.reason instanceof HandlerTimeoutError)) resolve('stopped');
    };
    if (controller.signal.aborted) onAbort();
    else controller.signal.addEventListener('abort', onAbort, { once: true });
  });

  try {
    const outcome = await Promise.race([run.then((value) => ({ value })), timedOut, stopped]);
    if (outcome === 'stopped') {
      const cancelled = cancelSignal?.aborted === true;
      return { record: stoppedRecord(step, controller.signal.reason, cancelled, meta()), settled };
    }
    if (outcome === 'timeout') {
      return {
        record: failure(step, new HandlerTimeoutError(timeoutMs), meta(), {
          retryable: true,
          code: 'HANDLER_TIMEOUT',
        }),
        settled,
      };
    }
    const value = outcome.value === undefined ? null : outcome.value;
    const maxDepth = options.maxResultDepth ?? DEFAULT_MAX_JSON_DEPTH;
    // Before stringifying: a result nested thousands deep overflows JSON.stringify and PostgreSQL's jsonb parser.
    if (valueExceedsDepth(value, maxDepth)) {
      const err = new Error(`handler result nests deeper than ${maxDepth} levels (worker.max_result_depth)`);
      err.name = 'ResultTooDeep';
      return {
        record: failure(step, err, meta(), { retryable: false, code: 'RESULT_TOO_DEEP' }),
        settled,
      };
    }
    try {
      JSON.stringify(value);
    } catch (e) {
      const err = new Error(`handler result is not JSON-serializable: ${coerceError(e).message}`);
      err.name = 'ResultNotSerializable';
      return {
        record: failure(step, err, meta(), { retryable: false, code: 'RESULT_NOT_SERIALIZABLE' }),
        settled,
      };
    }
    return { record: { success: true, result: value, metadata: meta() }, settled };
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
    // By brand, not class: the handler may have thrown another copy's PermanentError / RetryableError.
    const verdict = handlerErrorKind(err);
    if (verdict.kind === 'permanent') {
      return {
        record: failure(step, err, meta(), {
          retryable: false,
          ...(verdict.code ? { code: verdict.code } : {}),
        }),
        settled,
      };
    }
    if (verdict.kind === 'retryable') {
      return {
        record: failure(step, err, meta(), {
          retryable: true,
          ...(verdict.code ? { code: verdict.code } : {}),
          ...(verdict.retryAfterMs !== undefined ? { retryAfterMs: verdict.retryAfterMs } : {}),
        }),
        settled,
      };
    }
    if (controller.signal.aborted && cancelSignal?.aborted) {
      // The task was cancelled: the step is already `cancelled`, so this outcome will be refused anyway.
      return { record: failure(step, err, meta(), { retryable: false, code: 'TASK_CANCELLED' }), settled };
    }
    if (controller.signal.aborted && options.shutdownSignal.aborted) {
      return { record: failure(step, err, meta(), { retryable: true, code: 'WORKER_SHUTDOWN' }), settled };
    }
    return { record: failure(step, err, meta(), { retryable: true }), settled };
  } finally {
    clearTimeout(timer);
    options.shutdownSignal.removeEventListener('abort', onShutdown);
    cancelSignal?.removeEventListener('abort', onCancel);
  }
}

/**
 * Runs one attempt of a claimed step (see {@link runAttempt}) and caps the recorded error's message and stack
 * (`worker.errors`), so every failure path, engine-made or handler-thrown, is stored within the same limits.
 */
export async function runStep(
  step: ClaimedStep,
  registry: HandlerRegistry,
  options: Parameters<typeof runAttempt>[2],
): Promise<StepRunOutcome> {
  const outcome = await runAttempt(step, registry, options);
  return {
    ...outcome,
    record: capRecordedError(outcome.record, options.errorLimits ?? DEFAULT_ERROR_LIMITS),
  };
}
