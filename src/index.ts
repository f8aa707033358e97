/**
 * Tasker: a PostgreSQL-native workflow orchestration engine.
 *
 * @example
 * import { loadConfig, migrate, createOrchestrator, createWorker, defineHandler, defineTemplate } from 'tasker';
 *
 * const template = defineTemplate({ namespace: 'shop', name: 'checkout', version: '1.0.0' })
 *   .step('charge', { handler: 'shop.charge' })
 *   .step('ship', { handler: 'shop.ship', dependsOn: ['charge'] })
 *   .build();
 * const config = loadConfig();
 * const orchestrator = createOrchestrator({ config });
 * const worker = createWorker({ config, templates: [template], handlers: [
 *   defineHandler('shop.charge', async () => ({ ok: true })),
 *   defineHandler('shop.ship', async (ctx) => ({ shipped: ctx.dependencyResults.charge })),
 * ] });
 * await orchestrator.start(); await worker.start();
 * const task = await orchestrator.createTask({ namespace: 'shop', name: 'checkout', context: { order: 1 } });
 * const results = await task.result({ timeoutMs: 30_000 }); // { charge: { ok: true }, ship: { ... } }
 *
 * The root entry is the public API only: engine internals (queue access, metric sets, notification channels)
 * stay inside the package, and test/unit/public-api.test.ts pins the list so that a change to it is deliberate.
 * The HTTP client alone is `tasker/client` (no server or database code); test helpers are `tasker/testing`.
 *
 * @module
 */
export {
  ErrorCode,
  ERROR_BRAND,
  TaskerError,
  ConfigError,
  TemplateValidationError,
  InvalidTransitionError,
  TransitionConflictError,
  HandlerBackpressureError,
  PermanentError,
  RetryableError,
  TaskFailedError,
  TaskCancelledError,
  handlerErrorKind,
  type FailedStep,
  type ValidationIssue,
  type HandlerErrorVerdict,
} from './errors.js';
export { loadConfig, loadConfigDetailed, type TaskerConfig, type DeepPartial } from './config/index.js';
export { createPool, type PoolOptions } from './db/pool.js';
export { migrate, migrationsCurrent, type MigrationResult } from './db/migrate.js';
export {
  defineTemplate,
  parseYamlTemplate,
  loadTemplatesFromDir,
  validateTemplate,
  assertValidTemplate,
} from './templates/index.js';
export type {
  TaskTemplate,
  StepDefinition,
  RetryPolicy,
  IdentityStrategy,
  EventDeclaration,
  EventCondition,
  EventDeliveryMode,
  BatchConfig,
  BatchFailureStrategy,
} from './templates/types.js';
export { StepType, BATCH_FAILURE_STRATEGIES, DEFAULT_BATCH_CONFIG } from './templates/types.js';
export {
  DomainEventSystem,
  DurableEventConsumer,
  defineEventPublisher,
  domainEventsQueueName,
  type DomainEvent,
  type DomainEventMessage,
  type DomainEventStats,
  type DomainEventSubscriber,
  type DurableEventConsumerOptions,
  type DurableEventHandler,
  type EventPublisherDefinition,
  type EventPublisherInput,
  type StepOutcome,
} from './events/index.js';
export { TaskState, StepState } from './state/index.js';
export { Orchestrator, createOrchestrator, type OrchestratorOptions } from './orchestration/orchestrator.js';
export {
  createTask,
  type CreateTaskRequest,
  type CreateTaskOptions,
  type CreatedTask,
} from './orchestration/task-creator.js';
export * from './results/index.js';
export { getTask, FINISHED_TASK_STATES, type TaskView, type StepView } from './orchestration/task-queries.js';
export { registerTemplate, type RegisteredTemplate } from './orchestration/template-registry.js';
export {
  listTasks,
  requireTask,
  getStep,
  taskTransitions,
  stepTransitions,
  cancelTask,
  applyStepAction,
  listTemplates,
  getTemplate,
  listDlq,
  getDlq,
  updateDlq,
  DLQ_REASONS,
  DLQ_RESOLUTION_STATUSES,
  type TaskListFilter,
  type TaskSummary,
  type Page,
  type TransitionView,
  type StepAction,
  type DlqEntry,
  type DlqReason,
  type DlqResolutionStatus,
  type TemplateSummary,
  type TemplateDefinitionDocument,
} from './orchestration/operations.js';
export { Worker, createWorker, type WorkerOptions, type StepFinishedEvent } from './worker/worker.js';
export {
  defineHandler,
  defineThreadHandler,
  type StepContext,
  type HandlerDefinition,
  type StepHandlerFn,
  type ThreadStepContext,
  type ThreadHandlerFn,
  type ThreadHandlerTarget,
} from './worker/handler.js';
export type { ThreadPoolStats } from './worker/thread-pool.js';
export {
  decide,
  noBranches,
  batches,
  batchResults,
  BATCH_INPUT_KEY,
  type DecisionOutcome,
  type BatchOutcome,
  type BatchRange,
  type BatchContext,
  type BatchResult,
  type CheckpointData,
} from './worker/dynamic.js';
export { createLogger } from './observability/logger.js';
export {
  setupTracing,
  currentTracing,
  type Tracing,
  type TracingOptions,
  type TraceContextCarrier,
} from './observability/tracing.js';
export {
  createWorkerWebServer,
  startWorkerWebServer,
  type WorkerWebServer,
  type WorkerWebServerOptions,
  type WorkerHealthBody,
} from './api/worker-server.js';
export { createApiServer, type ApiServer, type ApiServerOptions } from './api/index.js';
export * from './client/index.js';
