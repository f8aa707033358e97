/**
 * Wire schemas of the REST API: the single source of truth for every request and response body.
 *
 * The server validates requests with them, `/openapi.json` is generated from them (`z.toJSONSchema`), and the
 * TypeScript client imports the inferred types. The wire format is snake_case; timestamps are ISO 8601 strings.
 */
import { z } from 'zod';
import { TASK_STATES, STEP_STATES } from '../state/index.js';
import type { StepState, TaskState } from '../state/index.js';
import { DLQ_REASONS, DLQ_RESOLUTION_STATUSES } from '../orchestration/operations.js';
import { API_PERMISSIONS } from '../config/schema.js';
import { IDENTITY_STRATEGIES, STEP_TYPES, type StepType } from '../templates/types.js';

// ---------------------------------------------------------------------------------------------------------------
// Shared pieces
// ---------------------------------------------------------------------------------------------------------------

/**
 * A UUID in the canonical 8-4-4-4-12 hex form. Deliberately lenient about version/variant bits (PostgreSQL
 * accepts any such value, and callers may bring their own ids).
 */
export const uuid = z.guid({ error: 'must be a UUID (8-4-4-4-12 hex digits)' });

/** An ISO 8601 timestamp with offset, as produced by `Date.prototype.toISOString`. */
export const timestamp = z.iso.datetime({ offset: true });

/**
 * A timestamp given as input: ISO 8601 with offset, and a real date PostgreSQL can store (year 0001..9999), so
 * an out-of-range value is a 400 rather than a database error.
 */
export const inputTimestamp = z.iso.datetime({ offset: true }).refine(
  (v) => {
    const ms = Date.parse(v);
    return !Number.isNaN(ms) && new Date(ms).getUTCFullYear() >= 1;
  },
  { message: 'must be a valid date-time between years 0001 and 9999' },
);

/** Every task state. */
export const taskState = z.enum(TASK_STATES as [TaskState, ...TaskState[]]);
/** Every step state. */
export const stepState = z.enum(STEP_STATES as [StepState, ...StepState[]]);

/** A plain object as `JSON.parse` makes it (not an array, not a class instance). */
function isJsonObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

/**
 * A JSON object (the task context, metadata, snapshots), passed through as given. Not `z.record()`: zod builds
 * a record's output key by key and silently drops a `__proto__` key, so a valid context would lose data.
 */
export const jsonObject = z
  .custom<Record<string, unknown>>(isJsonObject, { error: 'must be a JSON object' })
  .meta({ type: 'object', additionalProperties: {} });

/** Permission names of the API (`*` = all). */
export const apiPermission = z.enum([...API_PERMISSIONS, '*']);

/** The body of every error response. */
export const errorBody = z
  .object({
    error: z.object({
      code: z.string().describe('Stable machine-readable code, e.g. `TASK_NOT_FOUND`.'),
      message: z.string().describe('Human-readable explanation.'),
      details: jsonObject.optional().describe('Structured details, e.g. `issues` or `task_uuid`.'),
    }),
  })
  .meta({ id: 'Error' });
export type ErrorBody = z.infer<typeof errorBody>;

/** One validation problem: where (dotted path) and what. */
export const validationIssue = z
  .object({
    path: z.string(),
    message: z.string(),
    line: z.number().int().optional().describe('1-based line in the submitted YAML, when known.'),
  })
  .meta({ id: 'ValidationIssue' });
export type ValidationIssueBody = z.infer<typeof validationIssue>;

/** Page size of listings. */
const limit = z.coerce.number().int().min(1).max(200).default(50).describe('Page size, 1..200 (default 50).');
const cursor = z.string().min(1).optional().describe('`next_cursor` of the previous page.');

/** One page of a keyset-paginated listing: the items and the cursor of the next page (null = last page). */
function pageOf<T extends z.ZodType>(item: T, id: string) {
  return z.object({ items: z.array(item), next_cursor: z.string().nullable() }).meta({ id });
}

/** A query parameter that may be repeated (`?tag=a&tag=b`) or given once. */
const repeated = z.union([z.string(), z.array(z.string())]).transform((v) => (Array.isArray(v) ? v : [v]));

// ---------------------------------------------------------------------------------------------------------------
// Tasks
// ---------------------------------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------------------------------
// Step actions
// ---------------------------------------------------------------------------------------------------------------

const actionCommon = {
  reason: z.string().min(1).max(2000).describe('Why the operator acts; recorded in the audit trail.'),
  by: z.string().min(1).max(255).optional().describe('Who acts; defaults to the authenticated principal.'),
};

/** `PATCH /v1/tasks/{task_uuid}/steps/{step_uuid}` request body. */
export const stepActionBody = z
  .discriminatedUnion('action_type', [
    z.strictObject({ action_type: z.literal('reset_for_retry'), ...actionCommon }),
    z.strictObject({ action_type: z.literal('resolve_manually'), ...actionCommon }),
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

// ---------------------------------------------------------------------------------------------------------------
// Transitions and events
// ---------------------------------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------------------------------
// Templates
// ---------------------------------------------------------------------------------------------------------------

/** How repeated task requests are deduplicated (see the template `identity_strategy`). */
export const identityStrategy = z.enum(IDENTITY_STRATEGIES);
export type IdentityStrategy = z.infer<typeof identityStrategy>;

/** A registered template in a listing. */
export const templateSummaryBody = z
  .object({
    template_uuid: uuid,
    namespace: z.string(),
    name: z.string(),
    version: z.string(),
    description: z.string().nullable(),
    identity_strategy: identityStrategy,
    step_count: z.number().int(),
    created_at: timestamp,
  })
  .meta({ id: 'TemplateSummary' });
export type TemplateSummaryBody = z.infer<typeof templateSummaryBody>;

export const templateListBody = z
  .object({ items: z.array(templateSummaryBody) })
  .meta({ id: 'TemplateList' });
export type TemplateListBody = z.infer<typeof templateListBody>;

/** A step of a template definition, every default resolved. */
export const templateStepBody = z
  .object({
    name: z.string(),
    description: z.string().nullable(),
    handler: z.string(),
    type: z.string(),
    depends_on: z.array(z.string()),
    retry: z.object({
      retryable: z.boolean(),
      max_attempts: z.number().int(),
      backoff_base_ms: z.number(),
      backoff_multiplier: z.number(),
      max_backoff_ms: z.number(),
      jitter: z.number(),
    }),
    timeout_ms: z.number().int().nullable(),
    inputs: jsonObject,
  })
  .meta({ id: 'TemplateStep' });
export type TemplateStepBody = z.infer<typeof templateStepBody>;

/** The dependency graph of a template: step names and `[from, to]` edges (from must finish before to). */
export const dagBody = z
  .object({ nodes: z.array(z.string()), edges: z.array(z.tuple([z.string(), z.string()])) })
  .meta({ id: 'Dag' });
export type DagBody = z.infer<typeof dagBody>;

/** A validated template definition (not necessarily registered). */
export const templateDefinitionBody = z
  .object({
    namespace: z.string(),
    name: z.string(),
    version: z.string(),
    description: z.string().nullable(),
    identity_strategy: identityStrategy,
    steps: z.array(templateStepBody),
    dag: dagBody,
  })
  .meta({ id: 'TemplateDefinition' });
export type TemplateDefinitionBody = z.infer<typeof templateDefinitionBody>;

/** A registered template with its steps and graph. */
export const templateDetailBody = templateSummaryBody
  .extend({ steps: z.array(templateStepBody), dag: dagBody })
  .meta({ id: 'TemplateDetail' });
export type TemplateDetailBody = z.infer<typeof templateDetailBody>;

/** Path parameters naming a template. */
export const templateParams = z.strictObject({ namespace: z.string().min(1), name: z.string().min(1) });
/** `GET /v1/templates/{namespace}/{name}` query. */
export const templateQuery = z.strictObject({
  version: z.string().min(1).optional().describe('The highest registered version when omitted.'),
});

/**
 * JSON form of `POST /v1/templates` and `POST /v1/templates/validate`; the YAML may instead be sent as the raw
 * body with content type `text/yaml`, `application/yaml` or `text/plain`.
 */
export const templateSourceBody = z.strictObject({ yaml: z.string().min(1) }).meta({ id: 'TemplateSource' });
export type TemplateSourceBody = z.infer<typeof templateSourceBody>;

/** `POST /v1/templates/validate` success response (failures are 422 `TEMPLATE_INVALID` with `details.issues`). */
export const templateValidationBody = z
  .object({ valid: z.literal(true), template: templateDefinitionBody })
  .meta({ id: 'TemplateValidation' });
export type TemplateValidationBody = z.infer<typeof templateValidationBody>;

/** `POST /v1/templates` response: 201 when newly registered, 200 when the same content was already there. */
export const templateRegistrationBody = z
  .object({ created: z.boolean(), template: templateDetailBody })
  .meta({ id: 'TemplateRegistration' });
export type TemplateRegistrationBody = z.infer<typeof templateRegistrationBody>;

// ---------------------------------------------------------------------------------------------------------------
// Dead-letter queue
// ---------------------------------------------------------------------------------------------------------------

export const dlqReason = z.enum(DLQ_REASONS);
export const dlqResolutionStatus = z.enum(DLQ_RESOLUTION_STATUSES);

/** A dead-letter queue entry. */
export const dlqEntryBody = z
  .object({
    dlq_entry_uuid: uuid,
    task_uuid: uuid,
    original_state: z.string(),
    reason: dlqReason,
    resolution_status: dlqResolutionStatus,
    resolution_notes: z.string().nullable(),
    resolved_by: z.string().nullable(),
    resolved_at: timestamp.nullable(),
    task_snapshot: jsonObject,
    created_at: timestamp,
    updated_at: timestamp,
  })
  .meta({ id: 'DlqEntry' });
export type DlqEntryBody = z.infer<typeof dlqEntryBody>;

/** `GET /v1/dlq` query. */
export const listDlqQuery = z.strictObject({
  resolution_status: dlqResolutionStatus.optional(),
  reason: dlqReason.optional(),
  limit,
  cursor,
});
export type ListDlqQuery = z.infer<typeof listDlqQuery>;
/** What a client sends as `GET /v1/dlq` query parameters. */
export type ListDlqQueryInput = z.input<typeof listDlqQuery>;

export const dlqListBody = pageOf(dlqEntryBody, 'DlqList');
export type DlqListBody = z.infer<typeof dlqListBody>;

/** Path parameters naming a DLQ entry. */
export const dlqParams = z.strictObject({ dlq_entry_uuid: uuid });

/** `PATCH /v1/dlq/{dlq_entry_uuid}` request body; at least one field. */
export const updateDlqBody = z
  .strictObject({
    resolution_status: dlqResolutionStatus.optional(),
    resolution_notes: z.string().max(10_000).optional(),
    resolved_by: z.string().min(1).max(255).optional(),
  })
  .refine((b) => Object.keys(b).length > 0, { message: 'give at least one field to update' })
  .meta({ id: 'DlqUpdate' });
export type UpdateDlqBody = z.infer<typeof updateDlqBody>;

// ---------------------------------------------------------------------------------------------------------------
// Health
// ---------------------------------------------------------------------------------------------------------------

/** `GET /health/live`. */
export const liveBody = z.object({ status: z.literal('ok') }).meta({ id: 'Live' });
export type LiveBody = z.infer<typeof liveBody>;

const checkBody = z.object({
  ok: z.boolean(),
  message: z.string().optional(),
});

/** `GET /health/ready` (200 when ready, 503 when not). */
export const readyBody = z
  .object({
    status: z.enum(['ready', 'not_ready']),
    checks: z.object({ database: checkBody, migrations: checkBody }),
  })
  .meta({ id: 'Ready' });
export type ReadyBody = z.infer<typeof readyBody>;

/** Stats of one in-process channel. */
export const channelHealthBody = z
  .object({
    name: z.string(),
    capacity: z.number().int(),
    depth: z.number().int(),
    high_water_mark: z.number().int(),
    saturation: z.number().describe('depth / capacity, 0..1.'),
    dropped: z.number().int(),
    blocked_sends: z.number().int(),
    closed: z.boolean(),
  })
  .meta({ id: 'ChannelHealth' });

/** `GET /health`: detailed health (200 when healthy or degraded, 503 when unhealthy). */
export const healthBody = z
  .object({
    status: z.enum(['healthy', 'degraded', 'unhealthy']),
    degraded_reasons: z
      .array(z.string())
      .describe(
        'Why the process is degraded beyond what the other fields show: its engine writes keep failing, or ' +
          'abandoned handlers still run.',
      ),
    processor_id: z.string().nullable(),
    database: z.object({
      ok: z.boolean(),
      latency_ms: z.number().nullable(),
      message: z.string().optional(),
    }),
    migrations: checkBody,
    pool: z.object({
      total: z.number().int(),
      idle: z.number().int(),
      waiting: z.number().int(),
      acquire_p50_ms: z.number().nullable(),
      acquire_p95_ms: z.number().nullable(),
      acquire_p99_ms: z.number().nullable(),
      slow_acquires: z.number().int().nullable(),
    }),
    channels: z.array(channelHealthBody),
    backpressure: z.object({
      overloaded: z.boolean(),
      reason: z.string().nullable(),
      results_queue_depth: z.number().int().nullable(),
    }),
    circuit_breakers: z.array(
      z.object({
        name: z.string(),
        state: z.enum(['closed', 'open', 'half_open']),
        times_opened: z.number().int(),
      }),
    ),
    event_loop: z.object({ delay_p50_ms: z.number(), delay_p99_ms: z.number() }),
    uptime_seconds: z.number(),
  })
  .meta({ id: 'Health' });
export type HealthBody = z.infer<typeof healthBody>;
