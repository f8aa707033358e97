import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { coerceError } from '../errors.js';
import type { EventDeclaration } from '../templates/types.js';
import type { ClaimedStep, StepResultRecord } from '../worker/claimed-step.js';
import { firingDeclarations } from './matching.js';
import type { DomainEvent, StepOutcome } from './types.js';

/** What a publisher sees when it shapes an event's payload. */
export interface EventPublisherInput {
  declaration: EventDeclaration;
  outcome: StepOutcome;
  /** The handler's result (success) or null. */
  result: unknown;
  /** The recorded error (failure) or undefined. */
  error: StepResultRecord['error'];
  taskUuid: string;
  stepUuid: string;
  stepName: string;
  namespace: string;
  attempt: number;
  /** The task's input. */
  context: Record<string, unknown>;
  /** The step's static inputs. */
  inputs: Record<string, unknown>;
}

/** A named payload publisher, referenced from a template's `publishes_events[].publisher`. */
export interface EventPublisherDefinition {
  readonly name: string;
  readonly payload: (input: EventPublisherInput) => unknown;
}

/**
 * Defines an event publisher: it turns a step's outcome into the event's payload (JSON). A publisher that throws
 * drops that one event (logged and counted); the step is never affected.
 *
 * @example
 * export const paymentPublisher = defineEventPublisher('payments.public', ({ result }) => ({
 *   amount: (result as { amount: number }).amount,
 * }));
 */
export function defineEventPublisher(
  name: string,
  payload: (input: EventPublisherInput) => unknown,
): EventPublisherDefinition {
  if (typeof name !== 'string' || name.trim() === '') throw new TypeError('a publisher needs a name');
  if (typeof payload !== 'function') throw new TypeError(`publisher '${name}' needs a payload function`);
  return Object.freeze({ name, payload });
}

/** The outcome an attempt's result record stands for. */
export function outcomeOf(record: StepResultRecord): StepOutcome {
  if (record.success) return 'success';
  return record.retry_delay_ms !== undefined ? 'retryable_failure' : 'permanent_failure';
}

/** The events one attempt publishes, split by how they travel. */
export interface StepEvents {
  durable: DomainEvent[];
  fast: DomainEvent[];
  /** Events not built because their publisher is missing or threw. */
  failed: number;
}

/**
 * Builds the events a finished attempt publishes from its step's declarations. `broadcast` events appear in both
 * lists (same event id, so a consumer seeing both can tell).
 */
export function buildStepEvents(
  step: ClaimedStep,
  record: StepResultRecord,
  declarations: readonly EventDeclaration[] | undefined,
  publishers: ReadonlyMap<string, EventPublisherDefinition>,
  logger: Logger,
): StepEvents {
  const out: StepEvents = { durable: [], fast: [], failed: 0 };
  const outcome = outcomeOf(record);
  const firing = firingDeclarations(declarations, outcome);
  if (firing.length === 0) return out;
  const occurredAt = new Date().toISOString();
  for (const declaration of firing) {
    let payload: unknown = record.success ? { result: record.result } : { error: record.error };
    if (declaration.publisher !== undefined) {
      const publisher = publishers.get(declaration.publisher);
      try {
        if (!publisher) {
          throw new Error(`no event publisher named '${declaration.publisher}' is registered in this worker`);
        }
        payload = publisher.payload({
          declaration,
          outcome,
          result: record.success ? record.result : null,
          error: record.error,
          taskUuid: step.taskUuid,
          stepUuid: step.stepUuid,
          stepName: step.stepName,
          namespace: step.namespace,
          attempt: step.attempt,
          context: step.context,
          inputs: step.inputs,
        });
        JSON.stringify(payload ?? null);
      } catch (e) {
        out.failed += 1;
        logger.warn(
          { err: coerceError(e), event: declaration.name, step: step.stepName, taskUuid: step.taskUuid },
          'domain event not published: its publisher failed',
        );
        continue;
      }
    }
    const event: DomainEvent = {
      eventId: randomUUID(),
      name: declaration.name,
      delivery: declaration.delivery,
      condition: declaration.condition,
      outcome,
      occurredAt,
      namespace: step.namespace,
      templateName: step.templateName,
      templateVersion: step.templateVersion,
      taskUuid: step.taskUuid,
      stepUuid: step.stepUuid,
      stepName: step.stepName,
      correlationId: step.correlationId,
      attempt: step.attempt,
      payload: payload ?? null,
    };
    if (declaration.delivery !== 'fast') out.durable.push(event);
    if (declaration.delivery !== 'durable') out.fast.push(event);
  }
  return out;
}
