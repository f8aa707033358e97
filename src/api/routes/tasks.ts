/** Task routes: create, list, read, cancel, and the task's audit trail. */
import { workerQueueName } from '../../contract/names.js';
import { localClaimerFor } from '../../runtime/local-claimers.js';
import type { IncomingHttpHeaders } from 'node:http';
import { z } from 'zod';
import { cancelTask, listTasks, requireTask, taskTransitions } from '../../orchestration/operations.js';
import type { TraceContextCarrier } from '../../observability/tracing.js';
import { createTask, priorityProblem } from '../../orchestration/task-creator.js';
import { ApiError, ApiErrorCode } from '../errors.js';
import { seesStacks } from '../redact.js';
import { toTaskListFilter } from '../task-filter-input.js';
import { defineRoute, type ApiContext, type ApiRoute } from '../route.js';
import {
  createTaskBody,
  errorBody,
  listTasksQuery,
  taskBody as taskSchema,
  taskListBody,
  taskParams,
  transitionListBody,
} from '../schemas.js';
import { taskBody, taskSummaryBody, transitionBody } from '../views.js';

/** `DELETE /v1/tasks/{task_uuid}` query. */
const cancelQuery = z.strictObject({
  reason: z
    .string()
    .min(1)
    .max(2000)
    .optional()
    .describe('Why the task is cancelled; recorded in the audit trail.'),
});

/**
 * The request's W3C trace context (`traceparent`, `tracestate`): the created task's trace continues it when
 * tracing is enabled. A repeated `traceparent` header is invalid by the W3C rules and ignored.
 */
function traceContextOf(headers: IncomingHttpHeaders): TraceContextCarrier | undefined {
  const traceparent = headers.traceparent;
  if (typeof traceparent !== 'string') return undefined;
  const tracestate = headers.tracestate;
  return {
    traceparent,
    ...(tracestate === undefined
      ? {}
      : { tracestate: Array.isArray(tracestate) ? tracestate.join(',') : tracestate }),
  };
}

/**
 * Refuses a new task before anything is written: a priority outside the configured range (400, reported like
 * the body schema's own issues), or a system under back-pressure (503 with Retry-After).
 */
function admitTask(ctx: ApiContext, priority: number | undefined): void {
  // The allowed range is configuration (`orchestration.priority`), so it is checked here rather than in the
  // static body schema, and reported the same way as the schema's own issues.
  const priorityIssue =
    priority === undefined ? undefined : priorityProblem(priority, ctx.config.orchestration.priority);
  if (priorityIssue !== undefined) {
    throw new ApiError(
      400,
      ApiErrorCode.ValidationFailed,
      `invalid request body: priority: ${priorityIssue}`,
      {
        details: { issues: [{ path: 'priority', message: priorityIssue }] },
      },
    );
  }
  const verdict = ctx.backpressure.verdict;
  if (verdict.overloaded) {
    throw new ApiError(
      503,
      ApiErrorCode.Backpressure,
      `not accepting new tasks: ${verdict.reason ?? 'overloaded'}`,
      {
        headers: { 'retry-after': String(verdict.retryAfterSeconds) },
        details: { retry_after_seconds: verdict.retryAfterSeconds },
      },
    );
  }
}

/** `POST /v1/tasks`. */
function createTaskRoute(ctx: ApiContext): ApiRoute {
  return defineRoute({
    method: 'POST',
    url: '/v1/tasks',
    operationId: 'createTask',
    summary: 'Create a task from a registered template.',
    description:
      'Creates the task, its steps and their audit rows, and enqueues its root steps, in one transaction. ' +
      'With an `idempotency_key` (or a template whose identity strategy is `caller_provided`), repeating a ' +
      'request returns the existing task with 200.',
    tag: 'tasks',
    permission: 'tasks:create',
    body: { kind: 'json', schema: createTaskBody },
    responses: [
      {
        status: 201,
        description: 'Task created.',
        schema: taskSchema,
        headers: { Location: 'URL of the task.' },
      },
      {
        status: 200,
        description: 'The request matched an existing task by idempotency key; that task is returned.',
        schema: taskSchema,
        headers: { Location: 'URL of the task.' },
      },
      { status: 404, description: 'No such template (`TEMPLATE_NOT_FOUND`).', schema: errorBody },
      {
        status: 409,
        description: 'A task with the same identity exists (`TASK_DUPLICATE`, `details.task_uuid`).',
        schema: errorBody,
      },
    ],
    async handle({ body, reply, request, principal }) {
      admitTask(ctx, body.priority);
      const created = await createTask(
        ctx.pool,
        {
          namespace: body.namespace,
          name: body.name,
          version: body.version,
          context: body.context,
          priority: body.priority,
          initiator: body.initiator,
          sourceSystem: body.source_system,
          reason: body.reason,
          tags: body.tags,
          correlationId: body.correlation_id,
          parentCorrelationId: body.parent_correlation_id,
          idempotencyKey: body.idempotency_key,
        },
        ctx.processorId,
        {
          withView: true,
          traceContext: traceContextOf(request.headers),
          priority: ctx.config.orchestration.priority,
          maxJsonDepth: ctx.config.orchestration.api.max_json_depth,
          claimer: localClaimerFor(ctx.config.common.database.url, workerQueueName(body.namespace)),
        },
      );
      const task = created.task ?? (await requireTask(ctx.pool, created.taskUuid));
      reply.header('location', `/v1/tasks/${task.taskUuid}`).code(created.existing ? 200 : 201);
      return taskBody(task, seesStacks(principal));
    },
  });
}

/** The task routes. */
export function taskRoutes(ctx: ApiContext): ApiRoute[] {
  return [
    createTaskRoute(ctx),
    defineRoute({
      method: 'GET',
      url: '/v1/tasks',
      operationId: 'listTasks',
      summary: 'List tasks, newest first, with filters and cursor pagination.',
      tag: 'tasks',
      permission: 'tasks:read',
      query: listTasksQuery,
      responses: [{ status: 200, description: 'One page of tasks.', schema: taskListBody }],
      async handle({ query }) {
        const filter = toTaskListFilter(query);
        const page = await listTasks(ctx.pool, filter, {
          limit: query.limit,
          ...(query.cursor ? { cursor: query.cursor } : {}),
        });
        return { items: page.items.map(taskSummaryBody), next_cursor: page.nextCursor };
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/v1/tasks/:task_uuid',
      operationId: 'getTask',
      summary: 'Read a task with its steps.',
      tag: 'tasks',
      permission: 'tasks:read',
      params: taskParams,
      responses: [
        { status: 200, description: 'The task.', schema: taskSchema },
        { status: 404, description: 'No such task (`TASK_NOT_FOUND`).', schema: errorBody },
      ],
      async handle({ params, principal }) {
        return taskBody(await requireTask(ctx.pool, params.task_uuid), seesStacks(principal));
      },
    }),
    defineRoute({
      method: 'DELETE',
      url: '/v1/tasks/:task_uuid',
      operationId: 'cancelTask',
      summary: 'Cancel a task.',
      description:
        'Every unfinished step becomes `cancelled`, then the task; workers running its steps abort their handlers.',
      tag: 'tasks',
      permission: 'tasks:cancel',
      params: taskParams,
      query: cancelQuery,
      responses: [
        { status: 200, description: 'The cancelled task.', schema: taskSchema },
        { status: 404, description: 'No such task (`TASK_NOT_FOUND`).', schema: errorBody },
        { status: 409, description: 'The task already finished (`INVALID_TRANSITION`).', schema: errorBody },
      ],
      async handle({ params, query, principal }) {
        await cancelTask(ctx.pool, params.task_uuid, {
          by: principal.name,
          processorId: ctx.processorId,
          ...(query.reason ? { reason: query.reason } : {}),
        });
        return taskBody(await requireTask(ctx.pool, params.task_uuid), seesStacks(principal));
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/v1/tasks/:task_uuid/transitions',
      operationId: 'listTaskTransitions',
      summary: "The task's audit trail: its own and its steps' transitions merged, oldest first.",
      tag: 'tasks',
      permission: 'tasks:read',
      params: taskParams,
      responses: [
        { status: 200, description: 'Transitions, oldest first.', schema: transitionListBody },
        { status: 404, description: 'No such task (`TASK_NOT_FOUND`).', schema: errorBody },
      ],
      async handle({ params }) {
        const transitions = await taskTransitions(ctx.pool, params.task_uuid);
        // Every task has at least its creation transition, so an empty trail means the task does not exist.
        if (transitions.length === 0) await requireTask(ctx.pool, params.task_uuid);
        return { items: transitions.map(transitionBody) };
      },
    }),
  ];
}
