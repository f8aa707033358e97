/**
 * Engine operations used by the REST API, the CLI and library users: reading, listing, cancelling, operator
 * actions on steps, templates and the dead-letter queue. Each is one SQL call (definitions in sql/functions/).
 */
import type { Queryable } from '../db/pool.js';
import { queryRows } from '../db/query.js';
import { ErrorCode, TaskerError } from '../errors.js';
import type { StepState, TaskState } from '../state/index.js';
import { getTask, type StepErrorInfo, type StepView, type TaskView } from './task-queries.js';

/** Filters of {@link listTasks}; every field is optional and they combine with AND. */
export interface TaskListFilter {
  namespace?: string;
  /** Template name. */
  name?: string;
  version?: string;
  state?: TaskState[];
  /** Tasks created at or after this time. */
  createdFrom?: Date;
  /** Tasks created before this time. */
  createdTo?: Date;
  /** Tasks carrying every one of these tags. */
  tags?: string[];
}

/** A task in a listing (no steps). */
export interface TaskSummary {
  taskUuid: string;
  namespace: string;
  name: string;
  version: string;
  state: TaskState;
  priority: number;
  tags: string[];
  correlationId: string;
  stepsTotal: number;
  stepsRemaining: number;
  createdAt: Date;
  completedAt: Date | null;
}

/** One page of a listing; pass `nextCursor` back to get the next page (null = last page). */
export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

/** One audited state change of a task or a step. */
export interface TransitionView {
  /** Stable key of this event: `<task|step>:<uuid>:<sort_key>`. */
  key: string;
  entity: 'task' | 'step';
  taskUuid: string;
  stepUuid: string | null;
  stepName: string | null;
  fromState: string | null;
  toState: string;
  event: string;
  sortKey: number;
  metadata: Record<string, unknown> | null;
  processor: string | null;
  createdAt: Date;
}

/** Operator actions on a step (each records who and why in the audit trail). */
export type StepAction =
  | { action: 'reset_for_retry'; reason: string; by: string }
  | { action: 'resolve_manually'; reason: string; by: string }
  | { action: 'complete_manually'; reason: string; by: string; result: unknown };

export const DLQ_REASONS = [
  'staleness_timeout',
  'max_retries_exceeded',
  'permanent_failure',
  'dependency_cycle_detected',
  'worker_unavailable',
  'manual_dlq',
] as const;
export type DlqReason = (typeof DLQ_REASONS)[number];
export const DLQ_RESOLUTION_STATUSES = [
  'pending',
  'manually_resolved',
  'permanently_failed',
  'cancelled',
] as const;
export type DlqResolutionStatus = (typeof DLQ_RESOLUTION_STATUSES)[number];

export interface DlqEntry {
  dlqEntryUuid: string;
  taskUuid: string;
  originalState: string;
  reason: DlqReason;
  resolutionStatus: DlqResolutionStatus;
  resolutionNotes: string | null;
  resolvedBy: string | null;
  resolvedAt: Date | null;
  taskSnapshot: Record<string, unknown>;
  createdAt: Date;
  updatedAt: Date;
}

export interface TemplateSummary {
  templateUuid: string;
  namespace: string;
  name: string;
  version: string;
  description: string | null;
  identityStrategy: 'strict' | 'caller_provided' | 'always_unique';
  stepCount: number;
  createdAt: Date;
}

export type { StepErrorInfo, StepView, TaskView, StepState, TaskState };

/** Cursor of a keyset-paginated listing: the last item's uuid, opaque to callers. */
function encodeCursor(uuid: string | undefined): string | null {
  return uuid === undefined ? null : Buffer.from(uuid, 'utf8').toString('base64url');
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function decodeCursor(cursor: string | undefined): string | null {
  if (cursor === undefined || cursor === '') return null;
  const uuid = Buffer.from(cursor, 'base64url').toString('utf8');
  if (!UUID.test(uuid)) {
    throw new TaskerError(
      ErrorCode.TaskInvalid,
      'cursor is not valid: pass back next_cursor from the previous page',
      {
        details: { field: 'cursor' },
      },
    );
  }
  return uuid;
}

function notFound(code: ErrorCode, what: string): TaskerError {
  return new TaskerError(code, `${what} not found`);
}

interface TaskSummaryRow {
  task_uuid: string;
  namespace: string;
  name: string;
  version: string;
  state: TaskState;
  priority: number;
  tags: string[];
  correlation_id: string;
  steps_total: number;
  steps_remaining: number;
  created_at: Date;
  completed_at: Date | null;
}

/** Lists tasks newest first, `limit` (1..1000) at a time. */
export async function listTasks(
  db: Queryable,
  filter: TaskListFilter = {},
  page: { limit?: number; cursor?: string } = {},
): Promise<Page<TaskSummary>> {
  const limit = Math.min(1000, Math.max(1, Math.trunc(page.limit ?? 50)));
  const sqlFilter = {
    namespace: filter.namespace,
    name: filter.name,
    version: filter.version,
    states: filter.state && filter.state.length > 0 ? filter.state : undefined,
    created_from: filter.createdFrom?.toISOString(),
    created_to: filter.createdTo?.toISOString(),
    tags: filter.tags && filter.tags.length > 0 ? filter.tags : undefined,
  };
  const rows = await queryRows<TaskSummaryRow>(
    db,
    { name: 'tasker_list_tasks', text: 'SELECT * FROM tasker.list_tasks($1, $2, $3)' },
    [JSON.stringify(sqlFilter), decodeCursor(page.cursor), limit + 1],
  );
  const items = rows.slice(0, limit).map((r) => ({
    taskUuid: r.task_uuid,
    namespace: r.namespace,
    name: r.name,
    version: r.version,
    state: r.state,
    priority: r.priority,
    tags: r.tags,
    correlationId: r.correlation_id,
    stepsTotal: r.steps_total,
    stepsRemaining: r.steps_remaining,
    createdAt: r.created_at,
    completedAt: r.completed_at,
  }));
  return { items, nextCursor: rows.length > limit ? encodeCursor(items.at(-1)?.taskUuid) : null };
}

/** Reads a task or throws TASK_NOT_FOUND. */
export async function requireTask(db: Queryable, taskUuid: string): Promise<TaskView> {
  const task = await getTask(db, taskUuid);
  if (!task) throw notFound(ErrorCode.TaskNotFound, `task ${taskUuid}`);
  return task;
}

/** One step of a task, or STEP_NOT_FOUND / TASK_NOT_FOUND. */
export async function getStep(db: Queryable, taskUuid: string, stepUuid: string): Promise<StepView> {
  const task = await requireTask(db, taskUuid);
  const step = task.steps.find((s) => s.stepUuid === stepUuid);
  if (!step) throw notFound(ErrorCode.StepNotFound, `step ${stepUuid} of task ${taskUuid}`);
  return step;
}

interface TransitionRow {
  entity: 'task' | 'step';
  step_uuid: string | null;
  step_name: string | null;
  from_state: string | null;
  to_state: string;
  event: string;
  sort_key: number;
  metadata: Record<string, unknown> | null;
  processor: string | null;
  created_at: Date;
}

/**
 * The audit trail of a task (its own transitions and its steps'), or of one of its steps, oldest first. Each
 * entry has a stable `key`, so a reader that sees an entry twice can tell.
 */
export async function taskTransitions(
  db: Queryable,
  taskUuid: string,
  stepUuid?: string,
): Promise<TransitionView[]> {
  const rows = await queryRows<TransitionRow>(
    db,
    { name: 'tasker_task_transition_history', text: 'SELECT * FROM tasker.task_transition_history($1, $2)' },
    [taskUuid, stepUuid ?? null],
  );
  return rows.map((r) => ({
    key: r.entity === 'task' ? `task:${taskUuid}:${r.sort_key}` : `step:${r.step_uuid}:${r.sort_key}`,
    entity: r.entity,
    taskUuid,
    stepUuid: r.step_uuid,
    stepName: r.step_name,
    fromState: r.from_state,
    toState: r.to_state,
    event: r.event,
    sortKey: r.sort_key,
    metadata: r.metadata,
    processor: r.processor,
    createdAt: r.created_at,
  }));
}

/** The audit trail of one step (checks the step belongs to the task). */
export async function stepTransitions(
  db: Queryable,
  taskUuid: string,
  stepUuid: string,
): Promise<TransitionView[]> {
  await getStep(db, taskUuid, stepUuid);
  return taskTransitions(db, taskUuid, stepUuid);
}

/**
 * Cancels a task: every unfinished step becomes `cancelled`, then the task; workers running its steps abort
 * their handlers. Throws INVALID_TRANSITION for a finished task, TASK_NOT_FOUND for an unknown one.
 */
export async function cancelTask(
  db: Queryable,
  taskUuid: string,
  options: { reason?: string; by?: string; processorId?: string } = {},
): Promise<{ state: TaskState; stepsCancelled: number }> {
  const [row] = await queryRows<{ task_state: TaskState; steps_cancelled: number }>(
    db,
    { name: 'tasker_cancel_task', text: 'SELECT * FROM tasker.cancel_task($1, $2, $3, $4)' },
    [taskUuid, options.reason ?? null, options.by ?? null, options.processorId ?? 'api'],
  );
  return { state: row!.task_state, stepsCancelled: row!.steps_cancelled };
}

/**
 * Applies an operator action to a step and re-evaluates its task in the same transaction, so a blocked or
 * failed task really resumes. Returns the new states.
 */
export async function applyStepAction(
  db: Queryable,
  taskUuid: string,
  stepUuid: string,
  action: StepAction,
  processorId = 'api',
): Promise<{ stepState: StepState; taskState: TaskState }> {
  if (typeof action.reason !== 'string' || action.reason.length === 0) {
    throw new TaskerError(ErrorCode.TaskInvalid, 'reason is required for a step action', {
      details: { field: 'reason' },
    });
  }
  const result = action.action === 'complete_manually' ? JSON.stringify(action.result ?? null) : null;
  const [row] = await queryRows<{ step_state: StepState; task_state: TaskState }>(
    db,
    {
      name: 'tasker_apply_step_action',
      text: 'SELECT * FROM tasker.apply_step_action($1, $2, $3, $4, $5, $6, $7)',
    },
    [taskUuid, stepUuid, action.action, result, action.reason, action.by, processorId],
  );
  return { stepState: row!.step_state, taskState: row!.task_state };
}

interface TemplateRow {
  template_uuid: string;
  namespace: string;
  name: string;
  version: string;
  description: string | null;
  identity_strategy: TemplateSummary['identityStrategy'];
  step_count: number;
  created_at: Date;
}

/** Every registered template version. */
export async function listTemplates(db: Queryable): Promise<TemplateSummary[]> {
  const rows = await queryRows<TemplateRow>(db, { text: 'SELECT * FROM tasker.list_templates()' });
  return rows.map((r) => ({
    templateUuid: r.template_uuid,
    namespace: r.namespace,
    name: r.name,
    version: r.version,
    description: r.description,
    identityStrategy: r.identity_strategy,
    stepCount: r.step_count,
    createdAt: r.created_at,
  }));
}

/** A registered template with its definition and DAG (highest version when `version` is omitted). */
export async function getTemplate(
  db: Queryable,
  namespace: string,
  name: string,
  version?: string,
): Promise<
  TemplateSummary & {
    definition: TemplateDefinitionDocument;
    dag: { nodes: string[]; edges: [string, string][] };
  }
> {
  const [row] = await queryRows<TemplateRow & { definition: TemplateDefinitionDocument }>(
    db,
    {
      text: `SELECT t.template_uuid, t.namespace, t.name, t.version, t.description, t.identity_strategy,
                    (SELECT count(*)::int FROM tasker.template_steps s WHERE s.template_uuid = t.template_uuid) AS step_count,
                    t.created_at, t.definition
             FROM tasker.resolve_template($1, $2, $3) r JOIN tasker.templates t ON t.template_uuid = r.template_uuid`,
    },
    [namespace, name, version ?? null],
  );
  const r = row!;
  const steps = r.definition.steps;
  return {
    templateUuid: r.template_uuid,
    namespace: r.namespace,
    name: r.name,
    version: r.version,
    description: r.description,
    identityStrategy: r.identity_strategy,
    stepCount: r.step_count,
    createdAt: r.created_at,
    definition: r.definition,
    dag: {
      nodes: steps.map((s) => s.name),
      edges: steps.flatMap((s) => s.dependsOn.map((d): [string, string] => [d, s.name])),
    },
  };
}

/** A template as stored: the normalized template (camelCase, steps in topological order). */
export interface TemplateDefinitionDocument {
  namespace: string;
  name: string;
  version: string;
  description?: string;
  identityStrategy?: string;
  steps: {
    name: string;
    handler: string;
    description?: string;
    dependsOn: string[];
    retry: Record<string, unknown>;
    timeoutMs?: number;
    inputs: Record<string, unknown>;
  }[];
}

interface DlqRow {
  dlq_entry_uuid: string;
  task_uuid: string;
  original_state: string;
  dlq_reason: DlqReason;
  resolution_status: DlqResolutionStatus;
  resolution_timestamp: Date | null;
  resolution_notes: string | null;
  resolved_by: string | null;
  task_snapshot: Record<string, unknown>;
  created_at: Date;
  updated_at: Date;
}

function dlqEntry(r: DlqRow): DlqEntry {
  return {
    dlqEntryUuid: r.dlq_entry_uuid,
    taskUuid: r.task_uuid,
    originalState: r.original_state,
    reason: r.dlq_reason,
    resolutionStatus: r.resolution_status,
    resolutionNotes: r.resolution_notes,
    resolvedBy: r.resolved_by,
    resolvedAt: r.resolution_timestamp,
    taskSnapshot: r.task_snapshot,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

/** Dead-letter entries, newest first. */
export async function listDlq(
  db: Queryable,
  filter: { resolutionStatus?: DlqResolutionStatus; reason?: DlqReason } = {},
  page: { limit?: number; cursor?: string } = {},
): Promise<Page<DlqEntry>> {
  const limit = Math.min(1000, Math.max(1, Math.trunc(page.limit ?? 50)));
  const rows = await queryRows<DlqRow>(db, { text: 'SELECT * FROM tasker.list_dlq($1, $2, $3, $4)' }, [
    filter.resolutionStatus ?? null,
    filter.reason ?? null,
    decodeCursor(page.cursor),
    limit + 1,
  ]);
  const items = rows.slice(0, limit).map(dlqEntry);
  return { items, nextCursor: rows.length > limit ? encodeCursor(items.at(-1)?.dlqEntryUuid) : null };
}

/** One dead-letter entry, or DLQ_ENTRY_NOT_FOUND. */
export async function getDlq(db: Queryable, entryUuid: string): Promise<DlqEntry> {
  const [row] = await queryRows<DlqRow>(
    db,
    { text: 'SELECT * FROM tasker.tasks_dlq WHERE dlq_entry_uuid = $1' },
    [entryUuid],
  );
  if (!row) throw notFound(ErrorCode.DlqEntryNotFound, `dead-letter entry ${entryUuid}`);
  return dlqEntry(row);
}

/** Updates the resolution of a dead-letter entry; only the given fields change. */
export async function updateDlq(
  db: Queryable,
  entryUuid: string,
  patch: { resolutionStatus?: DlqResolutionStatus; resolutionNotes?: string; resolvedBy?: string },
): Promise<DlqEntry> {
  const [row] = await queryRows<DlqRow>(db, { text: 'SELECT * FROM tasker.update_dlq($1, $2, $3, $4)' }, [
    entryUuid,
    patch.resolutionStatus ?? null,
    patch.resolutionNotes ?? null,
    patch.resolvedBy ?? null,
  ]);
  return dlqEntry(row!);
}

/** The channel task changes are announced on (payload: comma-separated task uuids). */
export const TASK_EVENTS_CHANNEL = 'tasker_task_events';
/** The channel cancellations are announced on (payload: the task uuid). */
export const CANCELLATIONS_CHANNEL = 'tasker_cancellations';
