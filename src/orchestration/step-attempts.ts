/**
 * A step's attempts, derived from what the engine already stores (nothing is written for this): each attempt is
 * a `Start` in the step's audit trail, ended by the transition that followed it; its result or error is the
 * step's stored `results` for the latest attempt, and the `previous_results` a re-run recorded for the last
 * attempt before it. Errors of earlier attempts are not kept (each attempt overwrites the step's results), so
 * those attempts carry their outcome and times only. Also what the step runs with: its inputs, its ancestors'
 * results as a claim hands them over, and its last checkpoint (`sql/functions/step_inputs.sql`).
 */
import type { Queryable } from '../db/pool.js';
import { queryRows } from '../db/query.js';
import { ErrorCode } from '../errors.js';
import { notFound } from './operations-common.js';
import type { TransitionView } from './operations.js';
import type { StepErrorInfo } from './task-queries.js';

/** How an attempt ended. */
export type AttemptOutcome =
  /** Still running (or its outcome not yet recorded). */
  | 'running'
  | 'succeeded'
  /** The handler failed (the step was retried, or failed for good), or its outcome was invalid. */
  | 'failed'
  /** The worker stopped answering; the attempt counted and the step was claimed again. */
  | 'lease_expired'
  /** The worker handed the step back without an outcome (its own shutdown); the attempt did not count. */
  | 'released'
  /** The task was cancelled while it ran. */
  | 'cancelled'
  /** An operator completed or resolved the step while it ran. */
  | 'superseded';

export interface StepAttempt {
  /** 1-based within its run. */
  attempt: number;
  /**
   * 1 for the step's first run; each operator reset (reset for retry, re-run from a step) starts the next run,
   * numbered from attempt 1 again.
   */
  run: number;
  startedAt: Date;
  finishedAt: Date | null;
  outcome: AttemptOutcome;
  /** The worker that ran it. */
  worker: string | null;
  /** The handler's result, when stored (the latest attempt, or the last before a re-run). */
  result?: unknown;
  /** The error, when stored (as for `result`). */
  error?: StepErrorInfo;
}

/** What `workflow_steps.results` holds for a worker's attempt. */
interface StoredResults {
  success?: boolean;
  result?: unknown;
  error?: StepErrorInfo;
  metadata?: { attempt?: number; manually_completed?: boolean };
}

const ENDINGS: Record<string, AttemptOutcome> = {
  EnqueueForOrchestration: 'succeeded',
  EnqueueAsErrorForOrchestration: 'failed',
  LeaseExpired: 'lease_expired',
  Release: 'released',
  Cancel: 'cancelled',
  CompleteManually: 'superseded',
  ResolveManually: 'superseded',
};

function isStored(value: unknown): value is StoredResults {
  return value !== null && typeof value === 'object' && 'success' in value;
}

/** Puts a stored result or error on the attempt it belongs to (an operator's result belongs to none). */
function attach(attempt: StepAttempt | undefined, stored: unknown): void {
  if (!attempt || !isStored(stored) || stored.metadata?.manually_completed === true) return;
  const forAttempt = stored.metadata?.attempt;
  if (forAttempt !== undefined && forAttempt !== attempt.attempt) return;
  if (stored.success === true) attempt.result = stored.result ?? null;
  else if (stored.error) attempt.error = stored.error;
}

/**
 * The attempts of a step from its audit trail (oldest first) and its stored results. Pure: no I/O.
 */
export function deriveAttempts(trail: readonly TransitionView[], results: unknown): StepAttempt[] {
  const attempts: StepAttempt[] = [];
  let run = 1;
  let counted = 0;
  let open: StepAttempt | undefined;
  let lastOfRun: StepAttempt | undefined;
  for (const t of trail) {
    if (t.event === 'Start') {
      counted += 1;
      open = {
        attempt: counted,
        run,
        startedAt: t.createdAt,
        finishedAt: null,
        outcome: 'running',
        worker: t.processor,
      };
      attempts.push(open);
      lastOfRun = open;
      continue;
    }
    const ending = ENDINGS[t.event];
    if (open && ending !== undefined) {
      open.outcome = ending;
      open.finishedAt = t.createdAt;
      if (ending === 'released') counted -= 1;
      open = undefined;
      continue;
    }
    // An outcome refused by orchestration (an invalid decision or batch outcome) fails the attempt after all.
    if (
      t.event === 'Fail' &&
      t.fromState === 'enqueued_for_orchestration' &&
      lastOfRun?.outcome === 'succeeded'
    ) {
      lastOfRun.outcome = 'failed';
    }
    if (t.event === 'ResetForRetry' || t.event === 'Rerun') {
      if (t.event === 'Rerun') attach(lastOfRun, t.metadata?.previous_results);
      run += 1;
      counted = 0;
      open = undefined;
      lastOfRun = undefined;
    }
  }
  attach(lastOfRun, results);
  return attempts;
}

/** What a step runs with. */
export interface StepInputs {
  /** The step's inputs (template `inputs`; `__batch` for a batch instance). */
  inputs: Record<string, unknown>;
  /** The results of its ancestors, by step name, as its handler would receive them now. */
  dependencyResults: Record<string, unknown>;
  /** The last checkpoint saved (batch workers), with the attempt and time it was saved at. */
  checkpoint: Record<string, unknown> | null;
  /** The stored results of the latest attempt (or of an operator's completion). */
  results: unknown;
}

/** Reads what a step runs with; STEP_NOT_FOUND when it is not a step of the task. */
export async function stepInputs(db: Queryable, taskUuid: string, stepUuid: string): Promise<StepInputs> {
  const [row] = await queryRows<{
    inputs: Record<string, unknown> | null;
    checkpoint: Record<string, unknown> | null;
    results: unknown;
    dependency_results: Record<string, unknown>;
  }>(db, { name: 'tasker_step_inputs', text: 'SELECT * FROM tasker.step_inputs($1, $2)' }, [
    taskUuid,
    stepUuid,
  ]);
  if (!row) throw notFound(ErrorCode.StepNotFound, `step ${stepUuid} of task ${taskUuid}`);
  return {
    inputs: row.inputs ?? {},
    dependencyResults: row.dependency_results,
    checkpoint: row.checkpoint,
    results: row.results,
  };
}
