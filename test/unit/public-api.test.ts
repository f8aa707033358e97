/**
 * The public API, pinned: a change to what the package's entry points export must be deliberate (update these
 * lists, and the docs, in the same change). Engine internals (queue access, metric sets, notification channels)
 * stay out of the root entry.
 */
import { describe, expect, it } from 'vitest';
import * as root from '../../src/index.js';
import * as client from '../../src/client/index.js';
import * as testing from '../../src/testing/index.js';

const ROOT_EXPORTS = [
  'BATCH_FAILURE_STRATEGIES',
  'BATCH_INPUT_KEY',
  'ClientErrorCode',
  'ConfigError',
  'DEFAULT_BATCH_CONFIG',
  'DLQ_REASONS',
  'DLQ_RESOLUTION_STATUSES',
  'DomainEventSystem',
  'DurableEventConsumer',
  'ERROR_BRAND',
  'ErrorCode',
  'FINISHED_TASK_STATES',
  'HandlerBackpressureError',
  'InvalidTransitionError',
  'Orchestrator',
  'PermanentError',
  'RetryableError',
  'SseParser',
  'StepState',
  'StepType',
  'TaskCancelledError',
  'TaskFailedError',
  'TaskState',
  'Tasker',
  'TaskerAbortError',
  'TaskerApiError',
  'TaskerClient',
  'TaskerConflictError',
  'TaskerError',
  'TaskerForbiddenError',
  'TaskerNetworkError',
  'TaskerNotFoundError',
  'TaskerTimeoutError',
  'TaskerUnauthorizedError',
  'TaskerUnavailableError',
  'TaskerValidationError',
  'TemplateValidationError',
  'TransitionConflictError',
  'Worker',
  'applyStepAction',
  'assertValidTemplate',
  'backoffDelayMs',
  'batchResults',
  'batches',
  'cancelTask',
  'createApiServer',
  'createLogger',
  'createOrchestrator',
  'createPool',
  'createTask',
  'createTasker',
  'createTasks',
  'createWorker',
  'createWorkerWebServer',
  'currentTracing',
  'decide',
  'defineEventPublisher',
  'defineHandler',
  'defineTemplate',
  'defineThreadHandler',
  'domainEventsQueueName',
  'getDlq',
  'getStep',
  'getTask',
  'getTemplate',
  'handlerErrorKind',
  'listDlq',
  'listTasks',
  'listTemplates',
  'loadConfig',
  'loadConfigDetailed',
  'loadTemplatesFromDir',
  'migrate',
  'migrationsCurrent',
  'noBranches',
  'parseRetryAfter',
  'parseYamlTemplate',
  'readSseStream',
  'registerTemplate',
  'requireTask',
  'setupTracing',
  'startWorkerWebServer',
  'stepTransitions',
  'taskTransitions',
  'updateDlq',
  'validateTemplate',
];

const CLIENT_EXPORTS = [
  'ClientErrorCode',
  'SseParser',
  'TaskerAbortError',
  'TaskerApiError',
  'TaskerClient',
  'TaskerConflictError',
  'TaskerForbiddenError',
  'TaskerNetworkError',
  'TaskerNotFoundError',
  'TaskerTimeoutError',
  'TaskerUnauthorizedError',
  'TaskerUnavailableError',
  'TaskerValidationError',
  'backoffDelayMs',
  'parseRetryAfter',
  'readSseStream',
];

describe('public API', () => {
  it('the root entry (`tasker`) exports exactly the public API', () => {
    expect(Object.keys(root).sort()).toEqual(ROOT_EXPORTS);
  });

  it('`tasker/client` exports the HTTP client and its errors, and the root re-exports all of it', () => {
    expect(Object.keys(client).sort()).toEqual(CLIENT_EXPORTS);
    for (const name of CLIENT_EXPORTS) expect(root).toHaveProperty(name);
  });

  it('`tasker/testing` exports the test helpers', () => {
    expect(Object.keys(testing).sort()).toEqual([
      'createTestEngine',
      'runTemplate',
      'startEmbeddedPostgres',
      'stepContext',
    ]);
  });

  it('engine internals are not exported', () => {
    for (const name of [
      'QueueClient',
      'NotificationListener',
      'MetricSet',
      'TaskMetrics',
      'brandErrorClass',
    ]) {
      expect(root).not.toHaveProperty(name);
    }
  });
});
