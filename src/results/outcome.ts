import type { Queryable } from '../db/pool.js';
import { queryRows } from '../db/query.js';
import { TaskCancelledError, TaskFailedError, type FailedStep } from '../errors.js';
import { FINISHED_TASK_STATES, type TaskState } from '../state/index.js';

/**
 * What an awaited task produced: the result of every step that completed (or that an operator resolved), by step
 * name. Steps that never ran to success are absent: skipped branches of a decision, cancelled steps. Batch
 * instances appear under their own names (`<batch_worker>_000`, ...). A step that returned nothing maps to null.
 */
export type TaskResults = Record<string, unknown>;

/** One row of `tasker.task_outcomes` (sql/functions/task_outcomes.sql). */
interface OutcomeRow {
  task_uuid: string;
  state: TaskState;
  results: TaskResults | null;
  failed_steps:
    { step_uuid: string; name: string; attempts: number; error: FailedStep['error'] | null }[] | null;
  error: unknown;
}

/** A task's state and, once finished, what it produced. */
export interface TaskOutcome {
  taskUuid: string;
  state: TaskState;
  results: TaskResults;
  failedSteps: FailedStep[];
  taskError: unknown;
}

/** Largest number of tasks read in one statement (a reconnect may re-check thousands of waiters). */
const MAX_READ = 1000;

function outcomeOf(row: OutcomeRow): TaskOutcome {
  return {
    taskUuid: row.task_uuid,
    state: row.state,
    results: row.results ?? {},
    failedSteps: (row.failed_steps ?? []).map((s) => ({
      stepUuid: s.step_uuid,
      name: s.name,
      attempts: s.attempts,
      error: s.error ?? null,
    })),
    taskError: row.error ?? null,
  };
}

/** True once the task will not move again by itself (complete, error, cancelled, resolved_manually). */
export function isFinished(outcome: TaskOutcome): boolean {
  return FINISHED_TASK_STATES.has(outcome.state);
}

/**
 * The settled value of a finished task: its results, or the typed error. A task resolved by an operator
 * (`resolved_manually`) counts as done: its results are those of its completed and resolved steps.
 */
export function settleOutcome(
  outcome: TaskOutcome,
): { ok: true; results: TaskResults } | { ok: false; error: Error } {
  switch (outcome.state) {
    case 'error':
      return {
        ok: false,
        error: new TaskFailedError(outcome.taskUuid, outcome.failedSteps, outcome.taskError),
      };
    case 'cancelled':
      return { ok: false, error: new TaskCancelledError(outcome.taskUuid, outcome.failedSteps) };
    default:
      return { ok: true, results: outcome.results };
  }
}

interface PendingRead {
  resolve(outcome: TaskOutcome | undefined): void;
  reject(error: unknown): void;
}

/**
 * Reads task outcomes, coalescing the reads asked for in the same tick into one statement: a notification
 * naming 100 finished tasks, or the re-check of every waiter after the listener reconnects, is one round trip
 * (per 1,000 tasks), not one per task.
 */
export class OutcomeReader {
  readonly #db: Queryable;
  #pending = new Map<string, PendingRead[]>();
  #scheduled = false;

  constructor(db: Queryable) {
    this.#db = db;
  }

  /** The task's outcome, or undefined when no such task exists. */
  read(taskUuid: string): Promise<TaskOutcome | undefined> {
    return new Promise((resolve, reject) => {
      const list = this.#pending.get(taskUuid);
      if (list) list.push({ resolve, reject });
      else this.#pending.set(taskUuid, [{ resolve, reject }]);
      if (!this.#scheduled) {
        this.#scheduled = true;
        queueMicrotask(() => this.#flush());
      }
    });
  }

  #flush(): void {
    this.#scheduled = false;
    const batch = this.#pending;
    this.#pending = new Map();
    const uuids = [...batch.keys()];
    for (let i = 0; i < uuids.length; i += MAX_READ) {
      const chunk = uuids.slice(i, i + MAX_READ);
      queryRows<OutcomeRow>(
        this.#db,
        { name: 'tasker_task_outcomes', text: 'SELECT * FROM tasker.task_outcomes($1::uuid[])' },
        [chunk],
      ).then(
        (rows) => {
          const byUuid = new Map(rows.map((r) => [r.task_uuid, outcomeOf(r)]));
          for (const uuid of chunk) for (const p of batch.get(uuid) ?? []) p.resolve(byUuid.get(uuid));
        },
        (e: unknown) => {
          for (const uuid of chunk) for (const p of batch.get(uuid) ?? []) p.reject(e);
        },
      );
    }
  }
}
