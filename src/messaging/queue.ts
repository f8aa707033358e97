import type { Queryable } from '../db/pool.js';
import { queryRows } from '../db/query.js';

/** A message as read from a queue. `msgId` is a string because it is a BIGINT. */
export interface QueueMessage<T = unknown> {
  msgId: string;
  queueName: string;
  readCount: number;
  enqueuedAt: Date;
  visibleAt: Date;
  message: T;
  headers: Record<string, unknown> | null;
}

export interface QueueMetrics {
  queueName: string;
  length: number;
  visibleLength: number;
  oldestMessageAgeSeconds: number;
}

interface MessageRow {
  msg_id: string;
  queue_name: string;
  read_ct: number;
  enqueued_at: Date;
  vt: Date;
  message: unknown;
  headers: Record<string, unknown> | null;
}

const QUEUE_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,46}$/;

/** Validates a queue name (47 characters at most, so its LISTEN channel fits PostgreSQL's 63-byte limit). */
export function assertQueueName(name: string): void {
  if (!QUEUE_NAME.test(name)) {
    throw new TypeError(
      `invalid queue name '${name}': use letters, digits and _ (max 47, not starting with a digit)`,
    );
  }
}

/**
 * PGMQ-style queue operations over Tasker's queue tables. Every send notifies the queue's channel in the same
 * transaction. All methods are one round trip.
 */
export class QueueClient {
  readonly #db: Queryable;

  constructor(db: Queryable) {
    this.#db = db;
  }

  #query<R extends object>(name: string, text: string, values: unknown[]): Promise<R[]> {
    return queryRows<R>(this.#db, { name, text }, values);
  }

  /** Creates the queue if it does not exist. */
  async createQueue(queue: string): Promise<void> {
    assertQueueName(queue);
    await this.#query('tasker_create_queue', 'SELECT tasker.create_queue($1)', [queue]);
  }

  /** Sends one message, visible after `delayMs`. Returns its id. */
  async send(queue: string, message: unknown, delayMs = 0): Promise<string> {
    const rows = await this.#query<{ id: string }>('tasker_send', 'SELECT tasker.send($1, $2, $3) AS id', [
      queue,
      JSON.stringify(message),
      Math.max(0, Math.round(delayMs)),
    ]);
    return rows[0]!.id;
  }

  /** Sends many messages in one statement. Returns their ids in order. */
  async sendBatch(queue: string, messages: readonly unknown[], delayMs = 0): Promise<string[]> {
    const rows = await this.#query<{ id: string }>(
      'tasker_send_batch',
      'SELECT id FROM tasker.send_batch($1, $2::jsonb[], $3) AS id',
      [queue, messages.map((m) => JSON.stringify(m)), Math.max(0, Math.round(delayMs))],
    );
    return rows.map((r) => r.id);
  }

  /** Claims up to `qty` visible messages, hiding them for `visibilityTimeoutSeconds`. */
  async read<T = unknown>(
    queue: string,
    visibilityTimeoutSeconds: number,
    qty: number,
  ): Promise<QueueMessage<T>[]> {
    const rows = await this.#query<MessageRow>('tasker_read', 'SELECT * FROM tasker.read($1, $2, $3)', [
      queue,
      visibilityTimeoutSeconds,
      qty,
    ]);
    return rows.map((r) => ({
      msgId: r.msg_id,
      queueName: r.queue_name,
      readCount: r.read_ct,
      enqueuedAt: r.enqueued_at,
      visibleAt: r.vt,
      message: r.message as T,
      headers: r.headers,
    }));
  }

  /** Deletes messages; returns the ids that existed. Deleting a missing message is not an error. */
  async delete(queue: string, msgIds: readonly string[]): Promise<string[]> {
    const rows = await this.#query<{ id: string }>(
      'tasker_delete',
      'SELECT id FROM tasker.delete($1, $2) AS id',
      [queue, msgIds],
    );
    return rows.map((r) => r.id);
  }

  /** Moves messages to the archive table; returns the ids that existed. */
  async archive(queue: string, msgIds: readonly string[]): Promise<string[]> {
    const rows = await this.#query<{ id: string }>(
      'tasker_archive',
      'SELECT id FROM tasker.archive($1, $2) AS id',
      [queue, msgIds],
    );
    return rows.map((r) => r.id);
  }

  /** Sets the visibility timeout of messages to now + seconds (0 = visible at once); returns ids that existed. */
  async setVisibilityTimeout(queue: string, msgIds: readonly string[], seconds: number): Promise<string[]> {
    const rows = await this.#query<{ id: string }>(
      'tasker_set_vt',
      'SELECT id FROM tasker.set_vt($1, $2, $3) AS id',
      [queue, msgIds, seconds],
    );
    return rows.map((r) => r.id);
  }

  /** Depth and age of one queue, or of all queues. */
  async metrics(queue?: string): Promise<QueueMetrics[]> {
    const rows = await this.#query<{
      queue_name: string;
      queue_length: string;
      visible_length: string;
      oldest_msg_age_seconds: number;
    }>('tasker_queue_metrics', 'SELECT * FROM tasker.queue_metrics($1)', [queue ?? null]);
    return rows.map((r) => ({
      queueName: r.queue_name,
      length: Number(r.queue_length),
      visibleLength: Number(r.visible_length),
      oldestMessageAgeSeconds: r.oldest_msg_age_seconds,
    }));
  }
}
