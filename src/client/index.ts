/**
 * The Tasker HTTP client: a typed wrapper of the REST API with retries, typed errors and task event streams.
 *
 * @example
 * import { TaskerClient, TaskerNotFoundError } from 'tasker';
 *
 * const client = new TaskerClient({ baseUrl: 'http://127.0.0.1:8080' });
 * const { task } = await client.createTask({ namespace: 'shop', name: 'checkout', context: { order: 1 } });
 * const finished = await client.waitForTask(task.task_uuid, { timeoutMs: 60_000 });
 *
 * @module
 */
export {
  TaskerClient,
  type TaskerClientOptions,
  type CallOptions,
  type FetchFn,
  type TaskListQuery,
  type DlqListQuery,
  type StepActionOptions,
  type ManualResult,
  type TaskStateName,
  type CreateTaskResult,
  type TemplateValidationResult,
  type TaskEvent,
  type EventsOptions,
  type WaitForTaskOptions,
} from './client.js';
export {
  ClientErrorCode,
  TaskerApiError,
  TaskerNotFoundError,
  TaskerConflictError,
  TaskerUnauthorizedError,
  TaskerForbiddenError,
  TaskerValidationError,
  TaskerUnavailableError,
  TaskerNetworkError,
  TaskerTimeoutError,
  TaskerAbortError,
  type RequestInfo,
  type ApiErrorOptions,
} from './errors.js';
export { SseParser, readSseStream, type SseEvent } from './sse.js';
export { backoffDelayMs, parseRetryAfter, type RetryOptions } from './retry.js';
export type {
  CreateTaskBody,
  TaskBody,
  TaskSummaryBody,
  TaskListBody,
  StepBody,
  StepActionBody,
  TransitionBody,
  TemplateSummaryBody,
  TemplateDetailBody,
  TemplateStepBody,
  DagBody,
  TemplateDefinitionBody,
  TemplateValidationBody,
  TemplateRegistrationBody,
  ValidationIssueBody,
  DlqEntryBody,
  DlqListBody,
  UpdateDlqBody,
  HealthBody,
  ReadyBody,
  LiveBody,
  ErrorBody,
} from '../api/schemas.js';
