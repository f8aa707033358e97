/** Domain events: declared per template step, published after the step's result reached orchestration. */
export { DomainEventSystem } from './event-system.js';
export type { DomainEventStats, DomainEventSubscriber } from './event-system.js';
export { DurableEventConsumer } from './durable-consumer.js';
export type { DurableEventConsumerOptions, DurableEventHandler } from './durable-consumer.js';
export { defineEventPublisher, outcomeOf } from './publisher.js';
export type { EventPublisherDefinition, EventPublisherInput } from './publisher.js';
export { compileEventPattern, conditionMatches } from './matching.js';
export { fromEventMessage } from './types.js';
// Defined with the other names TypeScript and SQL share (mirrors `tasker.domain_events_queue_name`).
export { domainEventsQueueName } from '../contract/names.js';
export type { DomainEvent, DomainEventMessage, StepOutcome } from './types.js';
