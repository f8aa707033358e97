/**
 * A typed client of the Tasker REST API: one method per resource operation (tasks, steps, templates, the
 * dead-letter queue, health, events). How requests are sent and retried lives in `transport.ts`, event streams in
 * `events.ts`, the option and result types in `types.ts`. Request and response types are the wire types of
 * `src/api/schemas.ts` (imported as types only, so the client has no runtime dependency beyond the global
 * `fetch`).
 */
import type {
  CreateTaskBody,
  DlqEntryBody,
  DlqListBody,
  HealthBody,
  LiveBody,
  ReadyBody,
  StepBody,
  StepListBody,
  TaskBody,
  TaskListBody,
  TaskSummaryBody,
  TemplateDetailBody,
  TemplateListBody,
  TemplateRegistrationBody,
  TemplateSummaryBody,
  TemplateValidationBody,
  TransitionBody,
  TransitionListBody,
  UpdateDlqBody,
} from '../api/schemas.js';
import { TaskerValidationError } from './errors.js';
import { taskEvents, waitForTask } from './events.js';
import { StepActionsClient } from './step-actions.js';
import { followPages, seg } from './transport.js';
import type {
  CallOptions,
  CreateTaskResult,
  DlqListQuery,
  EventsOptions,
  TaskEvent,
  TaskListQuery,
  TemplateValidationResult,
  WaitForTaskOptions,
} from './types.js';

export type {
  CallOptions,
  CreateTaskResult,
  DlqListQuery,
  EventsOptions,
  FetchFn,
  ManualResult,
  StepActionOptions,
  TaskerClientOptions,
  TaskEvent,
  TaskListQuery,
  TaskStateName,
  TemplateValidationResult,
  WaitForTaskOptions,
} from './types.js';

/**
 * A client of the Tasker REST API.
 *
 * Idempotent requests (reads, cancel, template validation and registration, DLQ updates, and task creation
 * with an `idempotency_key`) are retried on 429/503 and on connection failures, with exponential backoff and
 * jitter, always waiting at least as long as `Retry-After` asks. Step actions and task creation without an
 * idempotency key are never retried: their outcome after a failure is unknown, and repeating them could act
 * twice.
 *
 * @example
 * const client = new TaskerClient({ baseUrl: 'http://127.0.0.1:8080', apiKey: process.env.TASKER_API_KEY });
 * const { task } = await client.createTask({ namespace: 'shop', name: 'checkout', context: { order: 1 } });
 * const done = await client.waitForTask(task.task_uuid, { onStep: (t) => console.log(t.step_name, t.to_state) });
 */
export class TaskerClient extends StepActionsClient {
  /** The API base URL (always ending in `/`). */
  get baseUrl(): string {
    return this.transport.base.href;
  }

  // --- Tasks ---

  /**
   * Creates a task. `created` is false when the request carried an idempotency key (or the template's
   * identity strategy matched) and the existing task was returned. Retried on 503 only with an
   * `idempotency_key`.
   */
  async createTask(body: CreateTaskBody, options: CallOptions = {}): Promise<CreateTaskResult> {
    const res = await this.transport.request({
      method: 'POST',
      path: 'v1/tasks',
      json: body,
      idempotent: body.idempotency_key !== undefined,
      signal: options.signal,
    });
    return { task: res.body as TaskBody, created: res.status === 201 };
  }

  /** A task with its steps. Throws {@link TaskerNotFoundError} for an unknown task. */
  async getTask(taskUuid: string, options: CallOptions = {}): Promise<TaskBody> {
    return (await this.transport.get(`v1/tasks/${seg(taskUuid)}`, options)) as TaskBody;
  }

  /** One page of tasks, newest first; pass `next_cursor` back as `cursor` for the next page. */
  async listTasks(query: TaskListQuery = {}, options: CallOptions = {}): Promise<TaskListBody> {
    return (await this.transport.get('v1/tasks', options, {
      namespace: query.namespace,
      name: query.name,
      version: query.version,
      state: query.state && query.state.length > 0 ? query.state.join(',') : undefined,
      created_from: query.created_from,
      created_to: query.created_to,
      tag: query.tag,
      limit: query.limit,
      cursor: query.cursor,
    })) as TaskListBody;
  }

  /** Every task matching `query`, page after page (`limit` is the page size). */
  async *iterateTasks(
    query: TaskListQuery = {},
    options: CallOptions = {},
  ): AsyncGenerator<TaskSummaryBody, void, undefined> {
    yield* followPages(query.cursor, (cursor) =>
      this.listTasks({ ...query, ...(cursor === undefined ? {} : { cursor }) }, options),
    );
  }

  /**
   * Cancels a task and returns it. Throws {@link TaskerConflictError} (`INVALID_TRANSITION`) when it already
   * finished. A retried cancel whose first attempt went through also reports that conflict.
   */
  async cancelTask(taskUuid: string, options: CallOptions & { reason?: string } = {}): Promise<TaskBody> {
    const res = await this.transport.request({
      method: 'DELETE',
      path: `v1/tasks/${seg(taskUuid)}`,
      query: { reason: options.reason },
      idempotent: true,
      signal: options.signal,
    });
    return res.body as TaskBody;
  }

  /** The task's audit trail (its own and its steps' transitions), oldest first. */
  async taskTransitions(taskUuid: string, options: CallOptions = {}): Promise<TransitionBody[]> {
    return (
      (await this.transport.get(`v1/tasks/${seg(taskUuid)}/transitions`, options)) as TransitionListBody
    ).items;
  }

  // --- Steps ---

  /** The steps of a task, in template order. */
  async listSteps(taskUuid: string, options: CallOptions = {}): Promise<StepBody[]> {
    return ((await this.transport.get(`v1/tasks/${seg(taskUuid)}/steps`, options)) as StepListBody).items;
  }

  /** One step of a task. */
  async getStep(taskUuid: string, stepUuid: string, options: CallOptions = {}): Promise<StepBody> {
    return (await this.transport.get(
      `v1/tasks/${seg(taskUuid)}/steps/${seg(stepUuid)}`,
      options,
    )) as StepBody;
  }

  /** A step's audit trail, oldest first. */
  async stepTransitions(
    taskUuid: string,
    stepUuid: string,
    options: CallOptions = {},
  ): Promise<TransitionBody[]> {
    const body = await this.transport.get(
      `v1/tasks/${seg(taskUuid)}/steps/${seg(stepUuid)}/transitions`,
      options,
    );
    return (body as TransitionListBody).items;
  }

  // --- Templates ---

  /** Every registered template version (optionally of one namespace). */
  async listTemplates(
    query: { namespace?: string } = {},
    options: CallOptions = {},
  ): Promise<TemplateSummaryBody[]> {
    return (
      (await this.transport.get('v1/templates', options, { namespace: query.namespace })) as TemplateListBody
    ).items;
  }

  /** A registered template with its steps and DAG; the highest version when `version` is omitted. */
  async getTemplate(
    namespace: string,
    name: string,
    version?: string,
    options: CallOptions = {},
  ): Promise<TemplateDetailBody> {
    return (await this.transport.get(`v1/templates/${seg(namespace)}/${seg(name)}`, options, {
      version,
    })) as TemplateDetailBody;
  }

  /**
   * Validates a YAML template without registering it. An invalid template is a normal result
   * (`valid: false` with every issue), not an error.
   */
  async validateTemplate(yamlText: string, options: CallOptions = {}): Promise<TemplateValidationResult> {
    try {
      const res = await this.transport.request({
        method: 'POST',
        path: 'v1/templates/validate',
        json: { yaml: yamlText },
        idempotent: true,
        signal: options.signal,
      });
      return res.body as TemplateValidationBody;
    } catch (e) {
      if (e instanceof TaskerValidationError && e.apiCode === 'TEMPLATE_INVALID') {
        return { valid: false, message: e.message, issues: [...e.issues] };
      }
      throw e;
    }
  }

  /**
   * Registers a YAML template version. Registering the same content again returns `created: false`; other
   * content under an existing version throws {@link TaskerConflictError}; an invalid template throws
   * {@link TaskerValidationError} with its issues.
   */
  async registerTemplate(yamlText: string, options: CallOptions = {}): Promise<TemplateRegistrationBody> {
    const res = await this.transport.request({
      method: 'POST',
      path: 'v1/templates',
      json: { yaml: yamlText },
      // Registration is content-addressed: repeating it is a no-op.
      idempotent: true,
      signal: options.signal,
    });
    return res.body as TemplateRegistrationBody;
  }

  // --- Dead-letter queue ---

  /** One page of dead-letter entries, newest first. */
  async listDlq(query: DlqListQuery = {}, options: CallOptions = {}): Promise<DlqListBody> {
    return (await this.transport.get('v1/dlq', options, {
      resolution_status: query.resolution_status,
      reason: query.reason,
      limit: query.limit,
      cursor: query.cursor,
    })) as DlqListBody;
  }

  /** Every dead-letter entry matching `query`, page after page. */
  async *iterateDlq(
    query: DlqListQuery = {},
    options: CallOptions = {},
  ): AsyncGenerator<DlqEntryBody, void, undefined> {
    yield* followPages(query.cursor, (cursor) =>
      this.listDlq({ ...query, ...(cursor === undefined ? {} : { cursor }) }, options),
    );
  }

  /** One dead-letter entry. */
  async getDlq(entryUuid: string, options: CallOptions = {}): Promise<DlqEntryBody> {
    return (await this.transport.get(`v1/dlq/${seg(entryUuid)}`, options)) as DlqEntryBody;
  }

  /** Updates the resolution of a dead-letter entry; only the given fields change. */
  async updateDlq(entryUuid: string, patch: UpdateDlqBody, options: CallOptions = {}): Promise<DlqEntryBody> {
    const res = await this.transport.request({
      method: 'PATCH',
      path: `v1/dlq/${seg(entryUuid)}`,
      json: patch,
      // Setting fields to given values: repeating it changes nothing more.
      idempotent: true,
      signal: options.signal,
    });
    return res.body as DlqEntryBody;
  }

  // --- Health and metrics ---

  /** Detailed health; an unhealthy server's report (HTTP 503) is returned, not thrown. */
  async health(options: CallOptions = {}): Promise<HealthBody> {
    return (await this.transport.getReport('health', options)) as HealthBody;
  }

  /** Liveness. */
  async healthLive(options: CallOptions = {}): Promise<LiveBody> {
    return (await this.transport.get('health/live', options)) as LiveBody;
  }

  /** Readiness; a not-ready report (HTTP 503) is returned, not thrown. */
  async healthReady(options: CallOptions = {}): Promise<ReadyBody> {
    return (await this.transport.getReport('health/ready', options)) as ReadyBody;
  }

  /** The Prometheus text exposition. */
  async metrics(options: CallOptions = {}): Promise<string> {
    const res = await this.transport.request({
      method: 'GET',
      path: 'metrics',
      idempotent: true,
      text: true,
      signal: options.signal,
    });
    return res.body as string;
  }

  // --- Events ---

  /**
   * The task's transitions as they happen, then one `end` event when it finishes (the iterator then ends).
   * Starts with every transition so far (or those after `lastEventId`). A dropped connection is resumed with
   * `Last-Event-ID`; events seen before are skipped, so each transition is yielded once. Breaking out of the
   * loop closes the connection.
   */
  events(taskUuid: string, options: EventsOptions = {}): AsyncGenerator<TaskEvent, void, undefined> {
    return taskEvents(this.transport, taskUuid, options);
  }

  /**
   * Waits until the task finishes (complete, error, cancelled, resolved manually) and returns it as read
   * afterwards. Built on {@link events}: `onTransition` sees every transition and `onStep` every step
   * transition, in order, each once, across reconnections. Rejects with {@link TaskerTimeoutError} after
   * `timeoutMs`, with {@link TaskerAbortError} when `signal` aborts.
   */
  waitForTask(taskUuid: string, options: WaitForTaskOptions = {}): Promise<TaskBody> {
    return waitForTask(this, taskUuid, options);
  }
}
