import type { EventCondition, EventDeliveryMode } from '../templates/types.js';

/** How the step attempt that published an event ended. */
export type StepOutcome = 'success' | 'retryable_failure' | 'permanent_failure';

/**
 * A domain event, as subscribers receive it. Published only after the step's result was recorded and handed to
 * orchestration in one committed transaction; an attempt whose result was refused or not written publishes
 * nothing.
 */
export interface DomainEvent<TPayload = unknown> {
  /** Unique per event; durable consumers use it to deduplicate (delivery is at least once). */
  eventId: string;
  /** Dotted name from the template, e.g. `payment.processed`. */
  name: string;
  delivery: EventDeliveryMode;
  /** The declaration's condition that matched. */
  condition: EventCondition;
  outcome: StepOutcome;
  /** ISO-8601 time the step's outcome was recorded. */
  occurredAt: string;
  namespace: string;
  templateName: string;
  templateVersion: string;
  taskUuid: string;
  stepUuid: string;
  stepName: string;
  correlationId: string;
  attempt: number;
  /** By default `{ result }` for a success and `{ error }` for a failure; a publisher may shape it. */
  payload: TPayload;
}

/** The JSON a durable event is stored as in its queue (snake_case, the wire format for external consumers). */
export interface DomainEventMessage {
  event_id: string;
  name: string;
  delivery: EventDeliveryMode;
  condition: EventCondition;
  outcome: StepOutcome;
  occurred_at: string;
  namespace: string;
  template_name: string;
  template_version: string;
  task_uuid: string;
  step_uuid: string;
  step_name: string;
  correlation_id: string;
  attempt: number;
  payload: unknown;
}

export function toEventMessage(e: DomainEvent): DomainEventMessage {
  return {
    event_id: e.eventId,
    name: e.name,
    delivery: e.delivery,
    condition: e.condition,
    outcome: e.outcome,
    occurred_at: e.occurredAt,
    namespace: e.namespace,
    template_name: e.templateName,
    template_version: e.templateVersion,
    task_uuid: e.taskUuid,
    step_uuid: e.stepUuid,
    step_name: e.stepName,
    correlation_id: e.correlationId,
    attempt: e.attempt,
    payload: e.payload,
  };
}

export function fromEventMessage(m: DomainEventMessage): DomainEvent {
  return {
    eventId: m.event_id,
    name: m.name,
    delivery: m.delivery,
    condition: m.condition,
    outcome: m.outcome,
    occurredAt: m.occurred_at,
    namespace: m.namespace,
    templateName: m.template_name,
    templateVersion: m.template_version,
    taskUuid: m.task_uuid,
    stepUuid: m.step_uuid,
    stepName: m.step_name,
    correlationId: m.correlation_id,
    attempt: m.attempt,
    payload: m.payload,
  };
}
