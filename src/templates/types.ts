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

export const StepType = { Standard: 'standard' } as const;
export type StepType = (typeof StepType)[keyof typeof StepType];

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
