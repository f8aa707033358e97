import type { Queryable } from '../db/pool.js';
import { queryRows } from '../db/query.js';
import { ErrorCode, TaskerError } from '../errors.js';
import {
  DEFAULT_PRIORITY_SETTINGS,
  serializeContext,
  sqlOptionsOf,
  validateRequest,
  type CreatedTask,
  type CreateTaskRequest,
  type PrioritySettings,
} from './task-creator.js';

/**
 * The outcome of one request of {@link createTasks}, at the request's index: the task (`existing` when its
 * idempotency key named an earlier task), or a `TASK_DUPLICATE` error when a template with the strict identity
 * strategy already has a task with the same context (`details.task_uuid` names it).
 */
export type CreateTasksItem = { ok: true; task: CreatedTask } | { ok: false; error: TaskerError };

/** One row of `tasker.create_tasks` (sql/functions/create_tasks.sql). */
interface CreateTasksRow {
  ord: number;
  task_uuid: string;
  state: string;
  steps_enqueued: number;
  correlation_id: string;
  template_version: string;
  duplicate: 'none' | 'existing' | 'conflict';
}

/**
 * Creates many tasks in one round trip and one transaction (`tasker.create_tasks`), in request order. Each
 * request gets the identity rules of {@link createTask} on its own: an idempotency key returns the earlier task
 * (`existing: true`, also for a repeat within the same call), a strict-identity duplicate is reported at its index
 * while the others are created. Every request is checked before anything is sent: an invalid one throws
 * `TASK_INVALID` naming its index and nothing is created; so does an error in the database (e.g. an unknown
 * template: `TEMPLATE_NOT_FOUND`), which rolls the whole call back. Tasks created this way carry no trace
 * context (no `task.create` span is made).
 */
export async function createTasks(
  db: Queryable,
  requests: readonly CreateTaskRequest[],
  processorId = 'client',
  options: { priority?: PrioritySettings } = {},
): Promise<CreateTasksItem[]> {
  // Callers from JavaScript may pass anything; checked on a copy typed unknown so `requests` keeps its type.
  const given: unknown = requests;
  if (!Array.isArray(given)) {
    throw new TaskerError(ErrorCode.TaskInvalid, 'createTasks expects an array of task requests', {
      details: { field: 'requests' },
    });
  }
  if (requests.length === 0) return [];
  const priority = options.priority ?? DEFAULT_PRIORITY_SETTINGS;
  const payload = requests.map((request, index) => {
    try {
      validateRequest(request, priority);
      return {
        namespace: request.namespace,
        name: request.name,
        version: request.version ?? null,
        // Parsed back so the array is serialized once; serializeContext refuses what JSON cannot carry.
        context: JSON.parse(serializeContext(request.context)) as unknown,
        options: sqlOptionsOf(request, priority),
      };
    } catch (e) {
      throw atIndex(e, index);
    }
  });
  const rows = await queryRows<CreateTasksRow>(
    db,
    { name: 'tasker_create_tasks', text: 'SELECT * FROM tasker.create_tasks($1::jsonb, $2)' },
    [JSON.stringify(payload), processorId],
  );
  rows.sort((a, b) => a.ord - b.ord);
  return rows.map((row, index): CreateTasksItem => {
    const request = requests[index]!;
    if (row.duplicate === 'conflict') {
      return {
        ok: false,
        error: new TaskerError(
          ErrorCode.TaskDuplicate,
          `requests[${index}]: a task with the same context already exists for ${request.namespace}/${request.name}` +
            `@${row.template_version} (identity strategy strict): ${row.task_uuid}`,
          { details: { index, task_uuid: row.task_uuid } },
        ),
      };
    }
    return {
      ok: true,
      task: {
        taskUuid: row.task_uuid,
        state: row.state,
        stepsEnqueued: row.steps_enqueued,
        correlationId: row.correlation_id,
        templateVersion: row.template_version,
        existing: row.duplicate === 'existing',
      },
    };
  });
}

function atIndex(e: unknown, index: number): unknown {
  if (!(e instanceof TaskerError)) return e;
  return new TaskerError(e.code, `requests[${index}]: ${e.message}`, {
    cause: e,
    details: { ...e.details, index },
  });
}
