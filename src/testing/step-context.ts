import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { silentLogger } from '../observability/logger.js';
import type { BatchContext, CheckpointData } from '../worker/dynamic.js';
import type { StepContext } from '../worker/handler.js';

/** A {@link StepContext} for unit tests, which also keeps what the handler saved with `ctx.checkpoint`. */
export type TestStepContext<TContext extends Record<string, unknown> = Record<string, unknown>> =
  StepContext<TContext> & {
    /** Every checkpoint the handler saved, in order. */
    readonly checkpoints: CheckpointData[];
  };

/** What {@link stepContext} may be given; everything is optional. */
export interface StepContextOptions<TContext extends Record<string, unknown> = Record<string, unknown>> {
  taskUuid?: string;
  stepUuid?: string;
  /** Default `step`. */
  stepName?: string;
  /** Default `test`. */
  namespace?: string;
  /** Default `test`. */
  templateName?: string;
  /** Default `1.0.0`. */
  templateVersion?: string;
  correlationId?: string;
  /** The task input (default `{}`). */
  context?: TContext;
  /** The step's `handler.initialization` (default `{}`). */
  inputs?: Record<string, unknown>;
  /** Results of ancestor steps by step name (default `{}`). */
  dependencyResults?: Record<string, unknown>;
  /** Default 1. */
  attempt?: number;
  /** Default 3. */
  maxAttempts?: number;
  /** Default: a signal that never fires. Pass one to test timeouts and cancellation. */
  signal?: AbortSignal;
  /** Default: a silent logger. */
  logger?: Logger;
  /** For a batch worker: its batch (range, where to resume). */
  batch?: BatchContext;
  /** What `ctx.checkpoint` answers (default true: saved). */
  checkpointAccepted?: boolean;
}

/**
 * Builds the context a worker gives a handler, with no database and no worker, to unit-test a handler:
 * `await myHandler.fn(stepContext({ context: { order_id: 1 }, dependencyResults: { validate: { ok: true } } }))`.
 * Defaults are listed on {@link StepContextOptions}. `ctx.checkpoint` validates its argument as the worker does and
 * records it in `ctx.checkpoints`.
 */
export function stepContext<TContext extends Record<string, unknown> = Record<string, unknown>>(
  options: StepContextOptions<TContext> = {},
): TestStepContext<TContext> {
  const checkpoints: CheckpointData[] = [];
  return {
    taskUuid: options.taskUuid ?? randomUUID(),
    stepUuid: options.stepUuid ?? randomUUID(),
    stepName: options.stepName ?? 'step',
    namespace: options.namespace ?? 'test',
    templateName: options.templateName ?? 'test',
    templateVersion: options.templateVersion ?? '1.0.0',
    correlationId: options.correlationId ?? randomUUID(),
    context: options.context ?? ({} as TContext),
    inputs: options.inputs ?? {},
    dependencyResults: options.dependencyResults ?? {},
    attempt: options.attempt ?? 1,
    maxAttempts: options.maxAttempts ?? 3,
    signal: options.signal ?? new AbortController().signal,
    logger: options.logger ?? silentLogger(),
    ...(options.batch ? { batch: options.batch } : {}),
    checkpoints,
    checkpoint(data: CheckpointData): Promise<boolean> {
      // The same check as the worker's (src/worker/step-runner.ts), so a bad call fails here too.
      if (!data || typeof data !== 'object' || !Number.isInteger(data.cursor)) {
        return Promise.reject(new TypeError('ctx.checkpoint needs { cursor: <whole number>, ... }'));
      }
      checkpoints.push(structuredClone(data));
      return Promise.resolve(options.checkpointAccepted ?? true);
    },
  };
}
