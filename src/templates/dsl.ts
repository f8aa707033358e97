/**
 * The TypeScript way to define a template. Step names accumulate in the builder's type, so `dependsOn` only
 * accepts steps that were already added, and reusing a name is a compile error:
 *
 * ```ts
 * const template = defineTemplate({ namespace: 'payments', name: 'refund', version: '1.0.0' })
 *   .step('validate', { handler: 'payments.validate' })
 *   .step('pay', { handler: 'payments.pay', dependsOn: ['validate'] })
 *   .build();
 * ```
 */
import { resolveRetryDefaults, resolveRetryPolicy, type RetryDefaults } from './retry.js';
import { assertValidTemplate } from './validate.js';
import {
  DEFAULT_BATCH_CONFIG,
  StepType,
  type BatchConfig,
  type EventCondition,
  type EventDeliveryMode,
  type IdentityStrategy,
  type RetryPolicy,
  type StepDefinition,
  type TaskTemplate,
} from './types.js';

/** Identity of the template being defined. */
export interface TemplateHeader {
  namespace: string;
  name: string;
  /** Semantic version, e.g. `1.0.0`. */
  version: string;
  description?: string;
  /** Deduplication of task requests (default `always_unique`). */
  identityStrategy?: IdentityStrategy;
}

/** Options of one step. `Deps` is the union of the names of the steps added before it. */
export interface StepOptions<Deps extends string> {
  /** Name of the handler a worker runs for this step. */
  handler: string;
  /** Steps that must finish before this one; only names of steps already added type-check. */
  dependsOn?: readonly Deps[];
  /** Overrides of the retry defaults given to {@link TemplateBuilder.build}. */
  retry?: Partial<RetryPolicy>;
  /** Handler timeout in ms; omitted means the worker's default. */
  timeoutMs?: number;
  /** Static inputs handed to the handler as `ctx.inputs`; must be plain JSON. */
  inputs?: Record<string, unknown>;
  description?: string;
  /** The step's type (default `standard`); see {@link StepType}. */
  type?: StepType;
  /** Batch settings of a `batch_worker` step; missing fields take {@link DEFAULT_BATCH_CONFIG}. */
  batch?: Partial<BatchConfig>;
  /** Domain events this step publishes; `condition` defaults to `success`, `delivery` to `durable`. */
  publishes?: readonly EventDeclarationOptions[];
}

/** A domain event declaration in the DSL. */
export interface EventDeclarationOptions {
  name: string;
  description?: string;
  condition?: EventCondition;
  delivery?: EventDeliveryMode;
  publisher?: string;
}

/**
 * Makes a repeated step name a type error. When names are not literals (`string`), nothing can be known at
 * compile time, and the runtime check in `build()` is all there is.
 */
export type NewStepName<N extends string, Existing extends string> = string extends Existing
  ? unknown
  : [N] extends [Existing]
    ? { readonly __error: `step '${N}' is already defined` }
    : unknown;

interface PendingStep {
  name: string;
  options: StepOptions<string>;
}

/**
 * An immutable template builder: `step()` returns a new builder, so a partly built template can be shared and
 * extended in different ways without interference.
 */
export class TemplateBuilder<Names extends string = never> {
  readonly #header: TemplateHeader;
  readonly #steps: readonly PendingStep[];

  private constructor(header: TemplateHeader, steps: readonly PendingStep[]) {
    this.#header = header;
    this.#steps = steps;
  }

  /** Starts an empty builder; {@link defineTemplate} is the usual way in. */
  static start(header: TemplateHeader): TemplateBuilder {
    return new TemplateBuilder({ ...header }, []);
  }

  /** Adds a step. `dependsOn` may name only steps added earlier. */
  step<const N extends string>(
    name: N & NewStepName<N, Names>,
    options: StepOptions<Names>,
  ): TemplateBuilder<Names | N> {
    return new TemplateBuilder<Names | N>(this.#header, [...this.#steps, { name, options }]);
  }

  /**
   * Produces the validated template.
   * @param retryDefaults Values for retry fields a step leaves out; missing ones use the built-in fallbacks.
   * @throws TemplateValidationError listing every problem (bad names, version, retry ranges, ...).
   */
  build(retryDefaults?: Partial<RetryDefaults>): TaskTemplate {
    const defaults = resolveRetryDefaults(retryDefaults);
    const h = this.#header;
    const template: TaskTemplate = { namespace: h.namespace, name: h.name, version: h.version, steps: [] };
    if (h.description !== undefined) template.description = h.description;
    if (h.identityStrategy !== undefined) template.identityStrategy = h.identityStrategy;
    for (const { name, options: o } of this.#steps) {
      const step: StepDefinition = {
        name,
        handler: o.handler,
        type: o.type ?? StepType.Standard,
        // Same rule as YAML: a dependency listed twice counts once.
        dependsOn: [...new Set(o.dependsOn ?? [])],
        retry: resolveRetryPolicy(o.retry, defaults),
        inputs: o.inputs === undefined ? {} : { ...o.inputs },
      };
      if (o.description !== undefined) step.description = o.description;
      if (o.timeoutMs !== undefined) step.timeoutMs = o.timeoutMs;
      if (o.batch !== undefined || step.type === StepType.BatchWorker) {
        step.batch = { ...DEFAULT_BATCH_CONFIG, ...o.batch };
      }
      if (o.publishes !== undefined && o.publishes.length > 0) {
        step.publishesEvents = o.publishes.map((e) => ({
          ...e,
          condition: e.condition ?? 'success',
          delivery: e.delivery ?? 'durable',
        }));
      }
      template.steps.push(step);
    }
    assertValidTemplate(template);
    return template;
  }
}

/** Starts a template definition; add steps with `.step()` and finish with `.build()`. */
export function defineTemplate(header: TemplateHeader): TemplateBuilder {
  return TemplateBuilder.start(header);
}
