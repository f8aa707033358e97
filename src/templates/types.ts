/**
 * The normalized, validated form of a task template. YAML templates and the TypeScript DSL both produce
 * this shape; everything downstream (registration, task creation) consumes only this.
 */

/** Per-step retry policy; every field is resolved (defaults applied). */
export interface RetryPolicy {
  /** When false, any failure is permanent. */
  retryable: boolean;
  /** Total executions allowed, first one included (1..100). */
  maxAttempts: number;
  /** Delay before the first retry, in ms. */
  backoffBaseMs: number;
  /** Growth factor per attempt (>= 1). */
  backoffMultiplier: number;
  /** Cap on any computed or requested delay, in ms. */
  maxBackoffMs: number;
  /** Random spread added to or removed from the delay, as a fraction (0..1). */
  jitter: number;
}

/**
 * - `standard`: runs its handler once its parents are done.
 * - `decision`: a standard step whose handler picks which of its dependents (its branches) run; the others are
 *   skipped, with everything that depends on them (except deferred convergence steps).
 * - `deferred_convergence`: waits for whichever of its declared parents actually run (skipped parents are left
 *   out; batch workers are counted as they are created) and then runs with their results.
 * - `batchable`: a standard step whose handler says how many items there are; orchestration then creates one
 *   instance of its `batch_worker` child per batch.
 * - `batch_worker`: the blueprint of those instances; never runs as itself.
 */
export const StepType = {
  Standard: 'standard',
  Decision: 'decision',
  DeferredConvergence: 'deferred_convergence',
  Batchable: 'batchable',
  BatchWorker: 'batch_worker',
} as const;
export type StepType = (typeof StepType)[keyof typeof StepType];
export const STEP_TYPES: readonly StepType[] = Object.values(StepType);

/**
 * What a permanently failed batch does: `fail_fast` fails the task (as any failed step does); `continue` lets the
 * other batches and the convergence step run, which receives the failed batch's error in its place.
 */
export const BATCH_FAILURE_STRATEGIES = ['fail_fast', 'continue'] as const;
export type BatchFailureStrategy = (typeof BATCH_FAILURE_STRATEGIES)[number];

/** Batch settings a `batch_worker` leaves out. */
export const DEFAULT_BATCH_CONFIG: Readonly<BatchConfig> = Object.freeze({
  failureStrategy: 'fail_fast',
  batchSize: 100,
  maxBatches: 1000,
});

/** Settings of a `batch_worker` blueprint. */
export interface BatchConfig {
  failureStrategy: BatchFailureStrategy;
  /** Items per batch when the batchable handler gives only a total. */
  batchSize: number;
  /** Most batches one batchable step may create (a larger outcome fails the step). */
  maxBatches: number;
}

/** When a declared domain event fires, judged from the step attempt's outcome. */
export const EVENT_CONDITIONS = [
  'success',
  'failure',
  'retryable_failure',
  'permanent_failure',
  'always',
] as const;
export type EventCondition = (typeof EVENT_CONDITIONS)[number];

/**
 * How a domain event travels: `durable` through the namespace's domain-event queue (written in the same
 * transaction as the step's result, at least once), `fast` in-process to subscribers of this process (lost on
 * restart), `broadcast` both.
 */
export const EVENT_DELIVERY_MODES = ['durable', 'fast', 'broadcast'] as const;
export type EventDeliveryMode = (typeof EVENT_DELIVERY_MODES)[number];

/** A domain event a step publishes (template `publishes_events`). */
export interface EventDeclaration {
  /** Dotted event name, e.g. `payment.processed`. */
  name: string;
  description?: string;
  condition: EventCondition;
  delivery: EventDeliveryMode;
  /** Name of a payload publisher registered in the worker; omitted: the default payload. */
  publisher?: string;
}

export interface StepDefinition {
  name: string;
  description?: string;
  /** Name of the handler a worker runs for this step. */
  handler: string;
  type: StepType;
  /** Names of steps that must finish before this one (deduplicated, order kept). */
  dependsOn: string[];
  retry: RetryPolicy;
  /** Handler timeout in ms; undefined means the worker's configured default. */
  timeoutMs?: number;
  /** Static inputs handed to the handler as `ctx.inputs` (template `handler.initialization`). */
  inputs: Record<string, unknown>;
  /** Batch settings; only (and always) on `batch_worker` steps. */
  batch?: BatchConfig;
  /** Domain events published after this step's result is recorded; omitted when there are none. */
  publishesEvents?: EventDeclaration[];
}

/**
 * How repeated task requests are deduplicated:
 * - `always_unique` (default): every request creates a task;
 * - `strict`: the same context (key order irrelevant) for the same template is refused (409, with the existing
 *   task's id) for ever;
 * - `caller_provided`: every request must carry an `idempotency_key`; a repeated key returns the existing task.
 * A request's `idempotency_key` always wins over the strategy.
 */
export const IDENTITY_STRATEGIES = ['always_unique', 'strict', 'caller_provided'] as const;
export type IdentityStrategy = (typeof IDENTITY_STRATEGIES)[number];

export interface TaskTemplate {
  namespace: string;
  name: string;
  /** Semantic version, e.g. `1.2.0`. */
  version: string;
  description?: string;
  /** Deduplication of task requests; `always_unique` when omitted. */
  identityStrategy?: IdentityStrategy;
  steps: StepDefinition[];
}

/** `namespace/name@version`, the unique key of a template. */
export function templateKey(t: Pick<TaskTemplate, 'namespace' | 'name' | 'version'>): string {
  return `${t.namespace}/${t.name}@${t.version}`;
}
