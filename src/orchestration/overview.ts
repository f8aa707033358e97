/**
 * The dashboard's overview: tasks created, completed, failed and cancelled over time, tasks by state, queue
 * depths and open dead-letter entries, in one SQL call (`sql/functions/task_overview.sql`).
 */
import type { Queryable } from '../db/pool.js';
import { queryRows } from '../db/query.js';

/** One time bucket of the overview. */
export interface OverviewBucket {
  /** Start of the bucket (buckets are aligned to multiples of their length since the epoch). */
  start: Date;
  created: number;
  completed: number;
  failed: number;
  cancelled: number;
}

/** A queue's depth. */
export interface QueueDepth {
  queue: string;
  /** Messages in the queue. */
  depth: number;
  /** Of those, visible now (not held by a worker or delayed). */
  visible: number;
  oldestAgeSeconds: number;
}

export interface TaskOverview {
  windowMinutes: number;
  bucketMinutes: number;
  /** Oldest first; the first holds the window's start, the last is the current (partial) bucket. */
  buckets: OverviewBucket[];
  /** Tasks in each unfinished state and in `error`, zero included. */
  tasksByState: Record<string, number>;
  queueDepths: QueueDepth[];
  /** Dead-letter entries still pending. */
  dlqOpen: number;
}

interface OverviewDocument {
  buckets: { start: string; created: number; completed: number; failed: number; cancelled: number }[];
  tasks_by_state: Record<string, number>;
  queue_depths: { queue: string; depth: number; visible: number; oldest_age_seconds: number }[];
  dlq_open: number;
}

/** The overview of the last `windowMinutes`, in buckets of `bucketMinutes`. */
export async function taskOverview(
  db: Queryable,
  windowMinutes: number,
  bucketMinutes: number,
): Promise<TaskOverview> {
  const [row] = await queryRows<{ doc: OverviewDocument }>(
    db,
    {
      name: 'tasker_task_overview',
      text: `SELECT tasker.task_overview(make_interval(mins => $1), make_interval(mins => $2)) AS doc`,
    },
    [windowMinutes, bucketMinutes],
  );
  const doc = row!.doc;
  return {
    windowMinutes,
    bucketMinutes,
    buckets: doc.buckets.map((b) => ({ ...b, start: new Date(b.start) })),
    tasksByState: doc.tasks_by_state,
    queueDepths: doc.queue_depths.map((q) => ({
      queue: q.queue,
      depth: q.depth,
      visible: q.visible,
      oldestAgeSeconds: q.oldest_age_seconds,
    })),
    dlqOpen: doc.dlq_open,
  };
}
