/**
 * The `[worker]` section (`worker.toml`): handler concurrency, claiming, completions, shutdown, the thread
 * pool, error size caps, channels and the worker's metrics and health endpoint.
 */
import { z } from 'zod';
import { MAX_JSON_DEPTH_LIMIT } from '../json-depth.js';
import { channelSchema, DAY_MS, HOUR_MS, int } from './schema-parts.js';

/** `[worker]`. */
export const workerSchema = z
  .strictObject({
    max_concurrent_handlers: int(1, 10_000, 'Step handlers running at the same time in one worker process.'),
    claim_batch_size: int(
      1,
      1_000,
      'Maximum step messages claimed from the queue per read; also the prefetch: steps claimed ahead of a free ' +
        'handler slot, and dependents a completion claims or chains for this worker.',
    ),
    poll_interval_ms: int(
      10,
      HOUR_MS,
      'How often the step queue is polled when no notification arrives, in ms.',
    ),
    handler_timeout_ms: int(
      1,
      DAY_MS,
      'Default time limit of one handler execution, in ms (a step template can set its own).',
    ),
    max_concurrent_completions: int(
      1,
      256,
      'Completion batches written back to the database at the same time. With 1 (the default), outcomes that ' +
        'finish while a batch is being written go together in the next batch: fewer, bigger transactions that ' +
        'do not contend for the same tasks, and no added delay for an outcome that finishes alone.',
    ),
    completion_batch_size: int(1, 1_000, 'Maximum step completions written per batch.'),
    completion_timeout_ms: int(1, HOUR_MS, 'Time limit for writing one completion batch, in ms.'),
    max_result_depth: int(
      1,
      MAX_JSON_DEPTH_LIMIT,
      'Deepest nesting of objects and arrays accepted in a handler result; a deeper result fails the step ' +
        'permanently with RESULT_TOO_DEEP instead of overflowing a serializer.',
    ),
    resolve_in_completion: z
      .boolean()
      .describe(
        'Resolve dependents, enqueue ready steps, finalize the task and claim the released steps this worker ' +
          'serves (within its free capacity) inside the completion transaction: one transaction per step on ' +
          'the common path, no result-queue hop and no claim round trip (ADR 0009). `false` = the ' +
          'four-transaction path, where orchestrators process every result.',
      ),
    chain_local_steps: z
      .boolean()
      .describe(
        'With `resolve_in_completion`: when a step succeeds, start at once the dependents this worker can run ' +
          'whose parents all succeeded here (standard steps of templates given to the worker, within its free ' +
          'capacity), and write their outcomes with their parents in one transaction (ADR 0011). A chain of ' +
          'quick steps costs one transaction instead of one per step; a chained outcome the database refuses ' +
          '(a parent refused as stale, the task stopped) runs again as a claimed attempt.',
      ),
    heartbeat_interval_ms: int(
      100,
      HOUR_MS,
      'How often a running step extends the visibility of its queue message, in ms (keep it well below the visibility timeout).',
    ),
    shutdown_timeout_ms: int(
      100,
      HOUR_MS,
      'On shutdown, how long running handlers may take to finish before they are aborted, in ms. The process ' +
        'is gone within this plus `abandon_timeout_ms` and the time to write the last outcomes.',
    ),
    abandon_timeout_ms: int(
      10,
      HOUR_MS,
      'A handler told to stop (its time limit passed, or the worker shuts down) that has not returned this long ' +
        'after its abort signal is abandoned: its slot is freed, it is counted (`/health`, `/metrics`), and the ' +
        'worker reports itself degraded while it still runs.',
    ),
    thread_pool: z
      .strictObject({
        min_threads: int(
          0,
          256,
          'Threads kept alive once the pool has started (the pool starts on first use).',
        ),
        max_threads: int(1, 256, 'Maximum worker threads running thread handlers at the same time.'),
        max_queue: int(
          0,
          100_000,
          'Thread-handler tasks that may wait for a free thread; beyond it a submission fails with ' +
            'HANDLER_BACKPRESSURE and the step is handed back (no attempt is used).',
        ),
        idle_timeout_ms: int(
          0,
          HOUR_MS,
          'Stop a thread above `min_threads` after it has been idle this long, in ms.',
        ),
        backpressure_retry_ms: int(
          1,
          60_000,
          'A step refused with HANDLER_BACKPRESSURE is dispatched again after this delay, in ms (its lease is kept).',
        ),
      })
      .refine((p) => p.min_threads <= p.max_threads, {
        message: 'min_threads must not exceed max_threads',
        path: ['min_threads'],
      })
      .describe(
        'Worker-thread pool for CPU-bound handlers declared with `defineThreadHandler` (created only when such a ' +
          'handler is registered). Its queue is the handler runtime channel: bounded by `max_queue`.',
      ),
    errors: z
      .strictObject({
        max_message_bytes: int(
          64,
          1024 * 1024,
          'Largest step error message stored, in UTF-8 bytes; a longer one is cut and marked `… [truncated N bytes]` ' +
            '(the error name and code are held to it too).',
        ),
        max_stack_bytes: int(
          0,
          1024 * 1024,
          'Largest step error stack stored, in UTF-8 bytes (stack frames only: the message is not repeated); ' +
            '0 = store no stacks, otherwise at least 64.',
        ).refine((v) => v === 0 || v >= 64, { message: 'must be 0 (no stacks) or at least 64' }),
      })
      .describe(
        'Size caps of the step errors a worker records (stored with the step, copied to the task and its ' +
          'dead-letter snapshot).',
      ),
    channels: z
      .strictObject({
        dispatch: channelSchema('Claimed steps waiting for a free handler slot.'),
        completion: channelSchema('Finished steps waiting to be written back in a completion batch.'),
      })
      .describe('In-process channels of the worker process.'),
    web: z
      .strictObject({
        enabled: z
          .boolean()
          .describe(
            'Serve `/metrics`, `/health` and `/health/live` from `tasker worker` processes (processes that also ' +
              'run the REST API serve the worker metrics on the API instead).',
          ),
        host: z.string().min(1).describe('Address the worker metrics and health server listens on.'),
        port: int(0, 65_535, 'Port of the worker metrics and health server (0 = any free port).'),
      })
      .describe(
        'Metrics and health endpoint of worker processes. `/metrics` and `/health` take the same credentials as ' +
          'the REST API (`orchestration.api.auth`, permission `system:read`); `/health/live` is open.',
      ),
  })
  .describe('Worker process (`worker.toml`).');
