/**
 * Wire schemas of tasks, their steps, operator step actions, and transitions and task event streams.
 */
import { z } from 'zod';
import { TASK_STATES } from '../state/index.js';
import type { TaskState } from '../state/index.js';
import { STEP_TYPES, type StepType } from '../templates/types.js';
import {
  cursor,
  inputTimestamp,
  jsonObject,
  limit,
  pageOf,
  repeated,
  stepState,
  taskState,
  timestamp,
  uuid,
} from './schemas-common.js';

/** `POST /v1/tasks` request body. Unknown fields are refused. */
export const createTaskBody = z
  .strictObject({
    namespace: z.string().min(1).max(255),
    name: z.string().min(1).max(255).describe('Template name.'),
    version: z
      .string()
      .min(1)
      .max(64)
      .optional()
      .describe('Template version; the highest registered when omitted.'),
    context: jsonObject.describe('Task input; must be a JSON object.'),
    priority: z
      .number()
      .int()
      .min(-1_000_000)
      .max(1_000_000)
      .optional()
      .describe(
        "Higher runs first (with aging, so lower priorities are never starved). Must be within the server's " +
          '`orchestration.priority.min`..`max` (default -100..100); `orchestration.priority.default` (0) when omitted.',
      ),
    initiator: z.string().max(255).optional(),
    source_system: z.string().max(255).optional(),
    reason: z.string().max(1000).optional(),
    tags: z.array(z.string().min(1).max(255)).max(100).optional(),
    correlation_id: uuid.optional(),
    parent_correlation_id: uuid.optional(),
    idempotency_key: z
      .string()
      .min(1)
      .max(255)
      .optional()
      .describe(
        'Caller-chosen identity for templates with the `caller_provided` identity strategy: repeating a request with the same key returns the existing task (200).',
      ),
  })
  .meta({ id: 'CreateTaskRequest' });
export type CreateTaskBody = z.infer<typeof createTaskBody>;

/** The error of a step, as recorded from its handler or from the engine. */
export const stepError = z
  .object({
    name: z.string().optional(),
    message: z.string(),
    code: z.string().optional(),
    retryable: z.boolean().optional(),
    stack: z
      .string()
      .optional()
      .describe(
        'Stack frames, capped by `worker.errors.max_stack_bytes`; only for callers holding `steps:resolve` or ' +
          '`dlq:update` (or `*`).',
      ),
  })
  .meta({ id: 'StepError' });
export type StepErrorBody = z.infer<typeof stepError>;

/** Where a step stands with respect to running (derived from its state and its dependencies' states). */
export const stepReadiness = z.enum([
  'ready',
  'waiting_for_dependencies',
  'waiting_for_retry',
  'running',
  'done',
  'failed',
  'cancelled',
  'skipped',
]);
export type StepReadiness = z.infer<typeof stepReadiness>;

/** A step of a task. */
export const stepBody = z
  .object({
    step_uuid: uuid,
    task_uuid: uuid,
    name: z.string(),
    handler: z.string(),
    state: stepState,
    type: z
      .enum(STEP_TYPES as [StepType, ...StepType[]])
      .describe('The template step type; `batch_worker` for an instance created per batch.'),
    attempts: z.number().int(),
    max_attempts: z.number().int(),
    depends_on: z.array(z.string()).describe('Names of the steps this one waits for.'),
    readiness: stepReadiness,
    result: z.unknown().describe('The handler result once the step succeeded, else null.'),
    error: stepError.nullable().describe('The last failure, if any.'),
    next_retry_at: timestamp.nullable(),
    processed_at: timestamp.nullable(),
  })
  .meta({ id: 'Step' });
export type StepBody = z.infer<typeof stepBody>;

/** A task with its steps. */
export const taskBody = z
  .object({
    task_uuid: uuid,
    namespace: z.string(),
    name: z.string(),
    version: z.string(),
    state: taskState,
    context: jsonObject,
    priority: z.number().int(),
    tags: z.array(z.string()),
    correlation_id: uuid,
    parent_correlation_id: uuid.nullable(),
    initiator: z.string().nullable(),
    source_system: z.string().nullable(),
    reason: z.string().nullable(),
    steps_total: z.number().int(),
    steps_remaining: z.number().int(),
    error: z
      .object({ step_uuid: uuid.nullable(), step_name: z.string().nullable(), error: stepError.nullable() })
      .nullable()
      .describe('The first permanent step failure, for tasks that failed.'),
    created_at: timestamp,
    updated_at: timestamp,
    completed_at: timestamp.nullable(),
    steps: z.array(stepBody),
  })
  .meta({ id: 'Task' });
export type TaskBody = z.infer<typeof taskBody>;

/** A task in a listing (no steps). */
export const taskSummaryBody = z
  .object({
    task_uuid: uuid,
    namespace: z.string(),
    name: z.string(),
    version: z.string(),
    state: taskState,
    priority: z.number().int(),
    tags: z.array(z.string()),
    correlation_id: uuid,
    steps_total: z.number().int(),
    steps_remaining: z.number().int(),
    created_at: timestamp,
    completed_at: timestamp.nullable(),
  })
  .meta({ id: 'TaskSummary' });
export type TaskSummaryBody = z.infer<typeof taskSummaryBody>;

/** `GET /v1/tasks` query. */
export const listTasksQuery = z.strictObject({
  namespace: z.string().min(1).optional(),
  name: z.string().min(1).optional(),
  version: z.string().min(1).optional(),
  state: z
    .string()
    .optional()
    .describe('Comma-separated task states, e.g. `error,cancelled`.')
    .transform((v, ctx) => {
      if (v === undefined || v === '') return undefined;
      const states = v.split(',').map((s) => s.trim());
      const bad = states.filter((s) => !(TASK_STATES as readonly string[]).includes(s));
      if (bad.length > 0) {
        ctx.addIssue({ code: 'custom', message: `unknown task state(s): ${bad.join(', ')}` });
        return z.NEVER;
      }
      return states as TaskState[];
    }),
  created_from: inputTimestamp.optional().describe('Tasks created at or after this time.'),
  created_to: inputTimestamp.optional().describe('Tasks created before this time.'),
  tag: repeated.optional().describe('Tasks carrying every given tag; repeat the parameter for several.'),
  search: z
    .string()
    .trim()
    .min(1)
    .max(255)
    .optional()
    .describe(
      'Find tasks by id: a task uuid or a hex prefix of one (at least 4 hex digits, dashes ignored), a ' +
        'correlation id, an idempotency key as it was sent, or a stored identity hash (`key:...`, `ctx:...`). ' +
        'Combines with the other filters; served by indexes.',
    ),
  limit,
  cursor,
});
export type ListTasksQuery = z.infer<typeof listTasksQuery>;
/** What a client sends as `GET /v1/tasks` query parameters (before parsing: `state` is comma-separated). */
export type ListTasksQueryInput = z.input<typeof listTasksQuery>;

/** A page of tasks. */
export const taskListBody = pageOf(taskSummaryBody, 'TaskList');
export type TaskListBody = z.infer<typeof taskListBody>;

/** Path parameters naming a task. */
export const taskParams = z.strictObject({ task_uuid: uuid });
/** Path parameters naming a step of a task. */
export const stepParams = z.strictObject({ task_uuid: uuid, step_uuid: uuid });

/** `GET /v1/tasks/{task_uuid}/steps` response. */
export const stepListBody = z.object({ items: z.array(stepBody) }).meta({ id: 'StepList' });
export type StepListBody = z.infer<typeof stepListBody>;

const actionCommon = {
  reason: z.string().min(1).max(2000).describe('Why the operator acts; recorded in the audit trail.'),
  by: z.string().min(1).max(255).optional().describe('Who acts; defaults to the authenticated principal.'),
};

/** `PATCH /v1/tasks/{task_uuid}/steps/{step_uuid}` request body. */
export const stepActionBody = z
  .discriminatedUnion('action_type', [
    z.strictObject({ action_type: z.literal('reset_for_retry'), ...actionCommon }),
    z.strictObject({ action_type: z.literal('resolve_manually'), ...actionCommon }),
    z
      .strictObject({ action_type: z.literal('rerun_from'), ...actionCommon })
      .describe(
        'Re-run the task from this step: the step and everything below it run again (attempts 0, results and ' +
          'checkpoints cleared, what they had kept in their `Rerun` audit rows); the other steps keep their results.',
      ),
    z.strictObject({
      action_type: z.literal('complete_manually'),
      ...actionCommon,
      result: z
        .unknown()
        .refine((v) => v !== undefined, { message: 'result is required for complete_manually' })
        .describe('Stored as the step result (any JSON value).'),
    }),
  ])
  .meta({ id: 'StepAction' });
export type StepActionBody = z.infer<typeof stepActionBody>;

/** One audited state change of a task or a step. */
export const transitionBody = z
  .object({
    key: z.string().describe('Stable id of this event: `<task|step>:<uuid>:<sort_key>`; the SSE `id`.'),
    entity: z.enum(['task', 'step']),
    task_uuid: uuid,
    step_uuid: uuid.nullable(),
    step_name: z.string().nullable(),
    from_state: z.string().nullable(),
    to_state: z.string(),
    event: z.string(),
    sort_key: z.number().int(),
    metadata: jsonObject.nullable(),
    processor: z.string().nullable(),
    created_at: timestamp,
  })
  .meta({ id: 'Transition' });
export type TransitionBody = z.infer<typeof transitionBody>;

/** A list of transitions, oldest first. */
export const transitionListBody = z.object({ items: z.array(transitionBody) }).meta({ id: 'TransitionList' });
export type TransitionListBody = z.infer<typeof transitionListBody>;

/** Data of the final `end` event of a task's event stream. */
export const eventStreamEndBody = z.object({ state: taskState }).meta({ id: 'EventStreamEnd' });
export type EventStreamEndBody = z.infer<typeof eventStreamEndBody>;
