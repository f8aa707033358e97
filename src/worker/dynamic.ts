/**
 * What decision and batchable handlers return, and what batch workers and convergence steps receive. The
 * outcome shapes are the stored wire format that orchestration reads (`decision_point_outcome`,
 * `batch_processing_outcome` in the step's result), so they are snake_case.
 */

/** A decision's outcome: which of the decision step's branches (its dependents) run. */
export interface DecisionOutcome {
  decision_point_outcome: { type: 'create_steps'; step_names: string[] } | { type: 'no_branches' };
  /** Anything else the handler wants recorded with the decision (why it chose). */
  metadata?: Record<string, unknown>;
}

/**
 * The result of a decision step that runs `steps` (names of steps that depend on the decision step); every other
 * branch is skipped, with everything that depends on it except deferred convergence steps.
 *
 * @example
 * defineHandler('approvals.route', (ctx) => {
 *   const { amount } = ctx.context as { amount: number };
 *   return amount < 1000 ? decide(['auto_approve']) : decide(['manager_approval', 'finance_review']);
 * });
 */
export function decide(steps: readonly string[], metadata?: Record<string, unknown>): DecisionOutcome {
  const names: readonly unknown[] = steps;
  if (!Array.isArray(names) || names.some((s) => typeof s !== 'string' || s === '')) {
    throw new TypeError('decide() takes the names of the branches to run');
  }
  return {
    decision_point_outcome: { type: 'create_steps', step_names: [...new Set<string>(steps)] },
    ...(metadata ? { metadata } : {}),
  };
}

/** The result of a decision step that runs none of its branches (all are skipped). */
export function noBranches(metadata?: Record<string, unknown>): DecisionOutcome {
  return { decision_point_outcome: { type: 'no_branches' }, ...(metadata ? { metadata } : {}) };
}

/** One batch as a cursor range: items `start` (inclusive) to `end` (exclusive). */
export interface BatchRange {
  start: number;
  end: number;
}

/** A batchable step's outcome: how orchestration splits the work into batch workers. */
export interface BatchOutcome {
  batch_processing_outcome: {
    type: 'create_batches';
    total_items: number;
    /** Items per batch; omitted → the batch worker's `batch_config.batch_size`. */
    batch_size?: number;
    /** Explicit ranges instead of `total_items` / `batch_size`. */
    ranges?: BatchRange[];
  };
  metadata?: Record<string, unknown>;
}

/**
 * The result of a batchable step: `totalItems` split into batches of `batchSize` (default: the template's
 * `batch_config.batch_size`), or explicit `ranges`. Zero items creates no batch worker; the convergence step
 * then runs at once.
 *
 * @example
 * defineHandler('csv.analyze', (ctx) => batches({ totalItems: rows.length, batchSize: 200 }));
 */
export function batches(
  spec: { totalItems: number; batchSize?: number } | { ranges: readonly BatchRange[] },
  metadata?: Record<string, unknown>,
): BatchOutcome {
  if ('ranges' in spec) {
    for (const r of spec.ranges) {
      if (!Number.isInteger(r.start) || !Number.isInteger(r.end) || r.start < 0 || r.end < r.start) {
        throw new TypeError(
          `invalid batch range ${JSON.stringify(r)}: need whole numbers with 0 <= start <= end`,
        );
      }
    }
    const total = spec.ranges.reduce((n, r) => n + (r.end - r.start), 0);
    return {
      batch_processing_outcome: { type: 'create_batches', total_items: total, ranges: [...spec.ranges] },
      ...(metadata ? { metadata } : {}),
    };
  }
  if (!Number.isInteger(spec.totalItems) || spec.totalItems < 0) {
    throw new TypeError(`totalItems must be a whole number >= 0; got ${String(spec.totalItems)}`);
  }
  if (spec.batchSize !== undefined && (!Number.isInteger(spec.batchSize) || spec.batchSize < 1)) {
    throw new TypeError(`batchSize must be a whole number >= 1; got ${String(spec.batchSize)}`);
  }
  return {
    batch_processing_outcome: {
      type: 'create_batches',
      total_items: spec.totalItems,
      ...(spec.batchSize !== undefined ? { batch_size: spec.batchSize } : {}),
    },
    ...(metadata ? { metadata } : {}),
  };
}

/** What a batch worker instance knows about its batch (`ctx.batch`). */
export interface BatchContext {
  /** 0-based position of this batch. */
  index: number;
  /** Number of batches the batchable step created. */
  count: number;
  /** First item of the range (inclusive). */
  start: number;
  /** End of the range (exclusive). */
  end: number;
  totalItems: number;
  failureStrategy: 'fail_fast' | 'continue';
  /**
   * Where to resume: the cursor of the last checkpoint this step saved (on any earlier attempt), else `start`.
   */
  resumeFrom: number;
  /** The last checkpoint this step saved, if any (as passed to `ctx.checkpoint`). */
  checkpoint?: CheckpointData;
}

/** Progress a batch worker saves with `ctx.checkpoint`: the next item to process, plus anything JSON. */
export interface CheckpointData {
  /** The next item to process (a retried attempt resumes here). */
  cursor: number;
  [key: string]: unknown;
}

/** The stored `__batch` input of a batch worker instance (written by orchestration). */
export interface BatchInput {
  index: number;
  count: number;
  start: number;
  end: number;
  total_items: number;
  failure_strategy: 'fail_fast' | 'continue';
}

/** The input key under which orchestration gives a batch worker instance its range. */
export const BATCH_INPUT_KEY = '__batch';

/** Builds `ctx.batch` from a batch worker instance's inputs and saved checkpoint (undefined for other steps). */
export function batchContextOf(
  inputs: Record<string, unknown>,
  checkpoint: CheckpointData | null | undefined,
): BatchContext | undefined {
  const raw = inputs[BATCH_INPUT_KEY] as BatchInput | undefined;
  if (!raw || typeof raw !== 'object') return undefined;
  const resume =
    checkpoint && Number.isInteger(checkpoint.cursor)
      ? Math.min(Math.max(checkpoint.cursor, raw.start), raw.end)
      : raw.start;
  return {
    index: raw.index,
    count: raw.count,
    start: raw.start,
    end: raw.end,
    totalItems: raw.total_items,
    failureStrategy: raw.failure_strategy,
    resumeFrom: resume,
    ...(checkpoint ? { checkpoint } : {}),
  };
}

/** One batch's outcome as a convergence step sees it. */
export interface BatchResult<T = unknown> {
  /** 0-based batch position. */
  index: number;
  /** Step name of the batch worker instance (`<worker>_<nnn>`). */
  step: string;
  success: boolean;
  /** The batch worker's result (success), else undefined. */
  result?: T;
  /** The batch's error (only with failure strategy `continue`). */
  error?: { name?: string; message?: string; code?: string };
}

/**
 * Every batch's outcome, in batch order, from a convergence step's dependency results. `worker` is the batch
 * worker step's template name; its instances are named `<worker>_000`, `<worker>_001`, ...
 */
export function batchResults<T = unknown>(
  ctx: { dependencyResults: Record<string, unknown> },
  worker: string,
): BatchResult<T>[] {
  const prefix = `${worker}_`;
  const out: BatchResult<T>[] = [];
  for (const [step, value] of Object.entries(ctx.dependencyResults)) {
    if (!step.startsWith(prefix)) continue;
    const suffix = step.slice(prefix.length);
    if (!/^\d+$/.test(suffix)) continue;
    const failed =
      value !== null && typeof value === 'object' && (value as { __failed?: boolean }).__failed === true;
    out.push(
      failed
        ? {
            index: Number(suffix),
            step,
            success: false,
            error: (value as { error: BatchResult['error'] }).error,
          }
        : { index: Number(suffix), step, success: true, result: value as T },
    );
  }
  return out.sort((a, b) => a.index - b.index);
}
