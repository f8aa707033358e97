/**
 * Bulk operator actions on tasks: cancel, or retry the failed steps of, a list of tasks or every task a listing
 * filter selects. The selection is resolved first (how many tasks the action applies to), then changed in chunks,
 * each its own short transaction (`sql/functions/bulk_task_action.sql`), so a large bulk never holds many locks
 * for long; each task is changed and audited exactly as the single action would.
 */
import type pg from 'pg';
import { queryRows } from '../db/query.js';
import { mapDbError } from '../db/errors.js';
import { ErrorCode, TaskerError } from '../errors.js';
import { FINISHED_TASK_STATES, TASK_STATES, type TaskState } from '../state/index.js';
import { taskFilterJson, type TaskListFilter } from './task-filter.js';

/** The bulk actions: `cancel` (as `DELETE /v1/tasks/{id}`), `retry_failed` (reset_for_retry of each failed step). */
export const BULK_ACTIONS = ['cancel', 'retry_failed'] as const;
export type BulkAction = (typeof BULK_ACTIONS)[number];

/** The most tasks one bulk call may change; a larger selection is refused (narrow the filter). */
export const BULK_MAX_TASKS = 10_000;
/** Tasks changed per transaction. */
export const BULK_CHUNK_SIZE = 100;

/** The states each action applies to. */
export const BULK_ACTION_STATES: Readonly<Record<BulkAction, readonly TaskState[]>> = {
  cancel: TASK_STATES.filter((s) => !FINISHED_TASK_STATES.has(s)),
  retry_failed: ['error', 'blocked_by_failures'],
};

/** Which tasks: an explicit list, or every task a listing filter selects (exactly one of the two). */
export type BulkSelection = { taskUuids: readonly string[] } | { filter: TaskListFilter };

export interface BulkOptions {
  reason: string;
  /** Who acts (recorded in the audit trail). */
  by: string;
  processorId?: string;
  /** Count only; change nothing. */
  dryRun?: boolean;
  /** Defaults to {@link BULK_MAX_TASKS}. */
  maxTasks?: number;
  /** Defaults to {@link BULK_CHUNK_SIZE}. */
  chunkSize?: number;
}

export interface BulkResult {
  /** Tasks of the selection the action applies to (cancel: unfinished; retry_failed: failed with failed steps). */
  matched: number;
  /** Tasks changed (0 for a dry run; fewer than `matched` when some changed state meanwhile). */
  affected: number;
  dryRun: boolean;
}

/** The tasks of `selection` the action applies to now, newest first; refuses a selection above `max`. */
async function resolveSelection(
  db: Pick<pg.Pool, 'query'>,
  action: BulkAction,
  selection: BulkSelection,
  max: number,
): Promise<string[]> {
  const states = BULK_ACTION_STATES[action];
  const failedSteps =
    action === 'retry_failed'
      ? `AND EXISTS (SELECT 1 FROM tasker.workflow_steps s
                     WHERE s.task_uuid = c.task_uuid AND s.state = 'error' AND NOT s.tolerate_failure)`
      : '';
  if ('taskUuids' in selection) {
    const rows = await queryRows<{ task_uuid: string }>(
      db,
      {
        text: `SELECT c.task_uuid FROM tasker.tasks c WHERE c.task_uuid = ANY($1::uuid[]) AND c.state = ANY($2)
               ${failedSteps} ORDER BY c.task_uuid DESC`,
      },
      [[...new Set(selection.taskUuids)], states],
    );
    return rows.map((r) => r.task_uuid);
  }
  const wanted = selection.filter.state?.length
    ? selection.filter.state.filter((s) => states.includes(s))
    : [...states];
  if (wanted.length === 0) return [];
  const rows = await queryRows<{ task_uuid: string }>(
    db,
    {
      text: `SELECT c.task_uuid FROM tasker.list_tasks($1, NULL, $2) c WHERE true ${failedSteps}
             ORDER BY c.task_uuid DESC`,
    },
    [taskFilterJson({ ...selection.filter, state: wanted }), max + 1],
  );
  if (rows.length > max) {
    throw new TaskerError(
      ErrorCode.TaskInvalid,
      `the filter selects more than ${max} tasks for ${action}; narrow it (a namespace, template, state or ` +
        'time range) and repeat the action for each part',
      { details: { field: 'filter', max_tasks: max } },
    );
  }
  return rows.map((r) => r.task_uuid);
}

/** Changes one chunk in its own transaction; returns how many tasks changed. */
async function applyChunk(
  pool: pg.Pool,
  action: BulkAction,
  chunk: readonly string[],
  options: BulkOptions,
): Promise<number> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const res = await client.query<{ task_uuid: string }>(
      'SELECT task_uuid FROM tasker.bulk_task_action($1, $2, $3, $4, $5)',
      [action, chunk, options.reason, options.by, options.processorId ?? 'api'],
    );
    await client.query('COMMIT');
    return res.rowCount ?? res.rows.length;
  } catch (e) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw mapDbError(e);
  } finally {
    client.release();
  }
}

/**
 * Applies `action` to the selected tasks: counts the tasks it applies to, then (unless a dry run) changes them
 * in chunks of bounded transactions. Throws TASK_INVALID for a missing reason or a filter selecting more than
 * `maxTasks` tasks. A failure part-way leaves the chunks before it applied (each task's change is atomic).
 */
export async function bulkTaskAction(
  pool: pg.Pool,
  action: BulkAction,
  selection: BulkSelection,
  options: BulkOptions,
): Promise<BulkResult> {
  if (typeof options.reason !== 'string' || options.reason.trim().length === 0) {
    throw new TaskerError(ErrorCode.TaskInvalid, 'reason is required for a bulk action', {
      details: { field: 'reason' },
    });
  }
  const max = options.maxTasks ?? BULK_MAX_TASKS;
  const tasks = await resolveSelection(pool, action, selection, max);
  const dryRun = options.dryRun === true;
  if (dryRun) return { matched: tasks.length, affected: 0, dryRun };
  const size = Math.max(1, options.chunkSize ?? BULK_CHUNK_SIZE);
  let affected = 0;
  for (let i = 0; i < tasks.length; i += size) {
    affected += await applyChunk(pool, action, tasks.slice(i, i + size), options);
  }
  return { matched: tasks.length, affected, dryRun };
}
