import type { OrchestrationConfig } from '../config/index.js';
import type { Queryable } from '../db/pool.js';
import { queryRows } from '../db/query.js';
import { taskViewFromDocument, type TaskDocument, type TaskView } from './task-queries.js';
import { ErrorCode, TaskerError } from '../errors.js';
import { DEFAULT_MAX_JSON_DEPTH, valueExceedsDepth } from '../json-depth.js';
import { currentTracing, type TraceContextCarrier } from '../observability/tracing.js';
import type { ClaimedStepRow, LocalStepClaimer } from '../runtime/local-claimers.js';

/** What a caller asks for when creating a task. */
export interface CreateTaskRequest {
  namespace: string;
  /** Template name. */
  name: string;
  /** Template version; the highest registered version when omitted. */
  version?: string;
  /** Task input. Must be a JSON object; stored exactly as given. */
  context: Record<string, unknown>;
  /**
   * Higher runs first: the task's step messages get a head start over those of lower-priority tasks (see
   * {@link PrioritySettings}). An integer within the configured range; the configured default when omitted.
   */
  priority?: number;
  initiator?: string;
  sourceSystem?: string;
  reason?: string;
  tags?: string[];
  correlationId?: string;
  parentCorrelationId?: string;
  /**
   * Deduplication key: a second request with the same key (for the same template) returns the first task
   * instead of creating one. Wins over the template's identity strategy.
   */
  idempotencyKey?: string;
}

/** The task as created. */
export interface CreatedTask {
  taskUuid: string;
  state: string;
  stepsEnqueued: number;
  correlationId: string;
  templateVersion: string;
  /** True when an earlier task with the same idempotency key was returned instead of creating one. */
  existing: boolean;
  /** The whole task, when asked for with `withView` (read in the same round trip). */
  task?: TaskView;
}

/** One row of `tasker.create_task`. */
interface CreateTaskRow {
  task_uuid: string;
  state: string;
  steps_enqueued: number;
  correlation_id: string;
  template_version: string;
  duplicate: 'none' | 'existing' | 'conflict';
  view: TaskDocument | null;
  /** Root steps claimed for a local worker (`CreateTaskOptions.claimer`), as claim rows. */
  claimed?: ClaimedStepRow[] | null;
}

/** How many root steps a task creation claims for a local worker at most. */
const ROOT_CLAIM_LIMIT = 4;

/**
 * Task priority settings (`orchestration.priority`). A step message of a task with priority `p` is back-dated by
 * `(p - min) * headStartMsPerLevel` ms, so it is claimed before messages of lower-priority tasks enqueued up to
 * that much earlier; nothing enqueued more than `(max - min) * headStartMsPerLevel` ms after a message overtakes
 * it (aging: no priority starves).
 */
export type PrioritySettings = OrchestrationConfig['priority'];

/**
 * The settings {@link createTask} uses when given none: the defaults of `config/tasker/base/orchestration.toml`
 * (a test checks the two agree). Processes pass their configured settings.
 */
export const DEFAULT_PRIORITY_SETTINGS: PrioritySettings = Object.freeze({
  min: -100,
  max: 100,
  default: 0,
  head_start_ms_per_level: 100,
});

/**
 * Why `priority` is not acceptable under `settings`, or undefined when it is. Shared by {@link createTask} and
 * the API, which reports it as a validation issue of the `priority` field.
 */
export function priorityProblem(priority: unknown, settings: PrioritySettings): string | undefined {
  if (typeof priority !== 'number' || !Number.isInteger(priority)) return 'priority must be an integer';
  if (priority < settings.min || priority > settings.max) {
    return `priority must be between ${settings.min} and ${settings.max} (orchestration.priority), got ${priority}`;
  }
  return undefined;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function invalid(message: string, field: string): TaskerError {
  return new TaskerError(ErrorCode.TaskInvalid, message, { details: { field } });
}

/** Serializes the context, refusing anything that is not a plain JSON object or that nests too deeply. */
export function serializeContext(context: unknown, maxDepth: number = DEFAULT_MAX_JSON_DEPTH): string {
  if (context === null || typeof context !== 'object' || Array.isArray(context)) {
    throw invalid('context must be a JSON object (e.g. {"order_id": 42})', 'context');
  }
  // Checked before serializing: a very deep context overflows JSON.stringify and PostgreSQL's jsonb parser.
  if (valueExceedsDepth(context, maxDepth)) {
    throw new TaskerError(
      ErrorCode.TaskInvalid,
      `context nests deeper than ${maxDepth} levels of objects and arrays (orchestration.api.max_json_depth)`,
      { details: { field: 'context', max_json_depth: maxDepth } },
    );
  }
  try {
    return JSON.stringify(context);
  } catch (e) {
    throw invalid(
      `context is not serializable to JSON: ${e instanceof Error ? e.message : String(e)}`,
      'context',
    );
  }
}

/** Checks a request before it is sent. @throws TaskerError `TASK_INVALID` naming the offending field. */
export function validateRequest(req: CreateTaskRequest, priority: PrioritySettings): void {
  if (typeof req.namespace !== 'string' || req.namespace.length === 0) {
    throw invalid('namespace is required', 'namespace');
  }
  if (typeof req.name !== 'string' || req.name.length === 0) throw invalid('name is required', 'name');
  if (req.priority !== undefined) {
    const problem = priorityProblem(req.priority, priority);
    if (problem !== undefined) {
      throw new TaskerError(ErrorCode.TaskInvalid, problem, {
        details: { field: 'priority', min: priority.min, max: priority.max },
      });
    }
  }
  if (req.tags !== undefined && (!Array.isArray(req.tags) || req.tags.some((t) => typeof t !== 'string'))) {
    throw invalid('tags must be an array of strings', 'tags');
  }
  if (
    req.idempotencyKey !== undefined &&
    (typeof req.idempotencyKey !== 'string' ||
      req.idempotencyKey.length === 0 ||
      req.idempotencyKey.length > 255)
  ) {
    throw invalid('idempotencyKey must be a string of 1 to 255 characters', 'idempotencyKey');
  }
  for (const field of ['correlationId', 'parentCorrelationId'] as const) {
    const v = req[field];
    if (v !== undefined && !UUID.test(v)) throw invalid(`${field} must be a UUID`, field);
  }
}

/** The `p_options` of `tasker.create_task` for a validated request (without trace context). */
export function sqlOptionsOf(
  request: CreateTaskRequest,
  priority: PrioritySettings,
): Record<string, unknown> {
  return {
    // create_task checks the range again (TK422) and stores the head start on the task (sql/functions/task_priority.sql).
    priority: request.priority ?? priority.default,
    priority_min: priority.min,
    priority_max: priority.max,
    priority_head_start_ms_per_level: priority.head_start_ms_per_level,
    initiator: request.initiator,
    source_system: request.sourceSystem,
    reason: request.reason,
    tags: request.tags,
    correlation_id: request.correlationId,
    parent_correlation_id: request.parentCorrelationId,
    idempotency_key: request.idempotencyKey,
  };
}

/** Options of {@link createTask}. */
export interface CreateTaskOptions {
  /** Also return the whole task, read in the same round trip. */
  withView?: boolean;
  /**
   * The caller's W3C trace context (e.g. the request's `traceparent` and `tracestate` headers). With tracing
   * enabled the task's trace continues it; without it the active OpenTelemetry context is continued, or a new
   * trace starts. Ignored when tracing is disabled.
   */
  traceContext?: TraceContextCarrier;
  /** Priority range, default and head start (`orchestration.priority`); {@link DEFAULT_PRIORITY_SETTINGS} if omitted. */
  priority?: PrioritySettings;
  /** Deepest nesting accepted in the context (`orchestration.api.max_json_depth`); 128 if omitted. */
  maxJsonDepth?: number;
  /**
   * A worker of this process serving the task's namespace (`localClaimerFor`): root steps are claimed for it in
   * the creating transaction, within its free capacity.
   */
  claimer?: LocalStepClaimer | undefined;
}

/**
 * Creates a task and enqueues its root steps in one transaction (one round trip, template resolution included):
 * the task, every step, every edge and their audit rows exist together or not at all. With tracing enabled this
 * is the task's `task.create` span, whose trace context is stored on the task for its steps.
 *
 * @throws TaskerError `TASK_INVALID` for an invalid request (a priority outside the configured range included).
 */
export async function createTask(
  db: Queryable,
  request: CreateTaskRequest,
  processorId = 'client',
  options: CreateTaskOptions = {},
): Promise<CreatedTask> {
  const priority = options.priority ?? DEFAULT_PRIORITY_SETTINGS;
  validateRequest(request, priority);
  const context = serializeContext(request.context, options.maxJsonDepth ?? DEFAULT_MAX_JSON_DEPTH);
  const sqlOptions: Record<string, unknown> = sqlOptionsOf(request, priority);
  const claimer = options.claimer;
  const reserved = claimer?.reserve(ROOT_CLAIM_LIMIT) ?? 0;
  if (claimer && reserved > 0) {
    sqlOptions.claim = {
      queues: claimer.queues,
      limit: reserved,
      lease_seconds: claimer.leaseSeconds,
      worker: claimer.workerId,
    };
  }
  let claimed: readonly ClaimedStepRow[] = [];
  try {
    return await createTaskRow(db, request, processorId, options, context, sqlOptions, (rows) => {
      claimed = rows;
    });
  } finally {
    if (claimer && reserved > 0) await claimer.adopt(claimed, reserved);
  }
}

async function createTaskRow(
  db: Queryable,
  request: CreateTaskRequest,
  processorId: string,
  options: CreateTaskOptions,
  context: string,
  sqlOptions: Record<string, unknown>,
  onClaimed: (rows: readonly ClaimedStepRow[]) => void,
): Promise<CreatedTask> {
  const row = await currentTracing().traceTaskCreate(
    request,
    options.traceContext,
    // `trace` is the context to store on the task: empty when tracing is off, so the options are unchanged.
    async (trace) => {
      const rows = await queryRows<CreateTaskRow>(
        db,
        { name: 'tasker_create_task', text: 'SELECT * FROM tasker.create_task($1, $2, $3, $4, $5, $6, $7)' },
        [
          request.namespace,
          request.name,
          request.version ?? null,
          context,
          JSON.stringify({ ...sqlOptions, ...trace }),
          processorId,
          options.withView ?? false,
        ],
      );
      return rows[0]!;
    },
    (r) => ({
      taskUuid: r.task_uuid,
      correlationId: r.correlation_id,
      templateVersion: r.template_version,
      stepsEnqueued: r.steps_enqueued,
      duplicate: r.duplicate,
    }),
  );
  if (row.claimed) onClaimed(row.claimed);
  if (row.duplicate === 'conflict') {
    throw new TaskerError(
      ErrorCode.TaskDuplicate,
      `a task with the same context already exists for ${request.namespace}/${request.name}@${row.template_version} ` +
        `(identity strategy strict): ${row.task_uuid}`,
      { details: { task_uuid: row.task_uuid } },
    );
  }
  return {
    taskUuid: row.task_uuid,
    state: row.state,
    stepsEnqueued: row.steps_enqueued,
    correlationId: row.correlation_id,
    templateVersion: row.template_version,
    existing: row.duplicate === 'existing',
    ...(row.view ? { task: taskViewFromDocument(row.view) } : {}),
  };
}
