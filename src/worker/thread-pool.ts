import { createRequire } from 'node:module';
import { Piscina } from 'piscina';
import type { Logger } from 'pino';
import type { WorkerConfig } from '../config/index.js';
import {
  ErrorCode,
  HandlerBackpressureError,
  PermanentError,
  RetryableError,
  TaskerError,
} from '../errors.js';
import type { ThreadHandlerTarget, ThreadStepContext } from './handler.js';
import type { SerializedThreadError, ThreadOutcome, ThreadTask } from './thread-entry.js';

/** `[worker.thread_pool]` settings. */
export type ThreadPoolConfig = WorkerConfig['thread_pool'];

/** A snapshot of a worker's handler thread pool, for health and metrics. */
export interface ThreadPoolStats {
  /** The pool has started its threads (it starts on the first thread-handler step). */
  started: boolean;
  closed: boolean;
  /** Threads alive now. */
  threads: number;
  /** Threads alive and not running a task. */
  idleThreads: number;
  minThreads: number;
  maxThreads: number;
  /** Bound of the handler runtime channel: tasks that may wait for a free thread. */
  maxQueue: number;
  /** Tasks submitted and not yet finished (running or waiting). */
  pending: number;
  /** Tasks waiting for a free thread. */
  queued: number;
  /** Approximate share of the pool's thread capacity spent running tasks since it started (0..1). */
  utilization: number;
  /** Tasks accepted since start. */
  submitted: number;
  /** Tasks finished since start (success, failure or abort). */
  completed: number;
  /** Submissions refused with HANDLER_BACKPRESSURE since start. */
  backpressureRejections: number;
}

/** Where the thread entry module is, and how a thread must start to load it. */
function threadEntry(): { filename: string; execArgv?: string[] } {
  const self = import.meta.url;
  const fromSource = new URL(self).pathname.endsWith('.ts');
  const filename = new URL(`./thread-entry.${fromSource ? 'ts' : 'js'}`, self).href;
  if (!fromSource) return { filename };
  // Running from TypeScript sources (tsx, vitest). Node 20 applies neither tsx's `--import` hooks nor the test
  // runner's transform inside worker threads, but `--require` hooks do apply: tsx's CommonJS hook lets piscina
  // load the .ts entry, which then registers tsx's ESM hooks for .ts handler modules itself.
  const tsxCjs = createRequire(self).resolve('tsx/cjs');
  return { filename, execArgv: [...process.execArgv, '--require', tsxCjs] };
}

/** piscina's own refusal when its queue is at its limit (it has no error codes; its messages are stable). */
function isPiscinaQueueFull(e: unknown): boolean {
  return (
    e instanceof Error &&
    (e.message === 'Task queue is at limit' ||
      e.message === 'No task queue available and all Workers are busy')
  );
}

/**
 * Turns a thread handler's flattened error back into the error classes the step runner records, keeping the
 * name, code and stack from the thread. @internal
 */
export function errorFromThread(e: SerializedThreadError): Error {
  let err: Error;
  if (e.kind === 'permanent') {
    err = new PermanentError(e.message, e.code !== undefined ? { code: e.code } : undefined);
  } else if (e.kind === 'retryable') {
    err = new RetryableError(e.message, {
      ...(e.code !== undefined ? { code: e.code } : {}),
      ...(e.retryAfterMs !== undefined ? { retryAfterMs: e.retryAfterMs } : {}),
    });
  } else {
    err = Object.assign(new Error(e.message), e.code !== undefined ? { code: e.code } : {});
  }
  err.name = e.name;
  if (e.stack !== undefined) err.stack = e.stack;
  return err;
}

/**
 * The worker-thread pool of one worker, for handlers made with `defineThreadHandler` (on piscina). Its queue is
 * the handler runtime channel: at most `max_threads` tasks run and at most `max_queue` wait; a submission beyond
 * that fails at once with {@link HandlerBackpressureError} instead of growing the queue. The bound is kept here,
 * not left to piscina, because piscina does not count tasks that carry an abort signal against its `maxQueue`.
 *
 * Threads start on the first submission. An aborted task (timeout, cancellation, shutdown) terminates the
 * thread that runs it, which stops even a synchronous loop; piscina starts a replacement.
 */
export class HandlerThreadPool {
  readonly #config: ThreadPoolConfig;
  readonly #logger: Logger;
  #piscina: Piscina<ThreadTask, ThreadOutcome> | undefined;
  #pending = 0;
  #submitted = 0;
  #completed = 0;
  #rejections = 0;
  #closed = false;

  constructor(config: ThreadPoolConfig, logger: Logger) {
    this.#config = config;
    this.#logger = logger;
  }

  /** Tasks that may be running or waiting at once. */
  get capacity(): number {
    return this.#config.max_threads + this.#config.max_queue;
  }

  /**
   * Submits one thread-handler run. Throws {@link HandlerBackpressureError} synchronously when the pool is full
   * (nothing was started); otherwise resolves with the handler's result or rejects with its error (or piscina's
   * `AbortError` when `signal` fired).
   */
  run(
    handler: string,
    target: ThreadHandlerTarget,
    ctx: ThreadStepContext,
    signal: AbortSignal,
  ): Promise<unknown> {
    if (this.#closed) {
      throw new TaskerError(ErrorCode.ShuttingDown, `thread pool is closed: handler '${handler}' not run`);
    }
    if (this.#pending >= this.capacity) throw this.#backpressure(handler);
    const pool = (this.#piscina ??= this.#start());
    this.#pending += 1;
    this.#submitted += 1;
    const task: ThreadTask = { handler, module: target.module, exportName: target.exportName, ctx };
    return pool
      .run(task, { signal })
      .then(
        (outcome) => {
          if (!outcome.ok) throw errorFromThread(outcome.error);
          return JSON.parse(outcome.json) as unknown;
        },
        (e: unknown) => {
          if (isPiscinaQueueFull(e)) throw this.#backpressure(handler);
          throw e;
        },
      )
      .finally(() => {
        this.#pending -= 1;
        this.#completed += 1;
      });
  }

  #backpressure(handler: string): HandlerBackpressureError {
    this.#rejections += 1;
    return new HandlerBackpressureError(handler, {
      maxThreads: this.#config.max_threads,
      maxQueue: this.#config.max_queue,
      pending: this.#pending,
    });
  }

  #start(): Piscina<ThreadTask, ThreadOutcome> {
    const entry = threadEntry();
    const c = this.#config;
    const pool = new Piscina<ThreadTask, ThreadOutcome>({
      filename: entry.filename,
      name: 'runThreadTask',
      ...(entry.execArgv ? { execArgv: entry.execArgv } : {}),
      minThreads: c.min_threads,
      maxThreads: c.max_threads,
      // The real bound is enforced in run(); this only keeps piscina's own queue from ever exceeding it.
      maxQueue: c.max_queue,
      idleTimeout: c.idle_timeout_ms,
      // CPU-bound work: one task per thread, or tasks would share a thread's time and its termination.
      concurrentTasksPerWorker: 1,
    });
    // A thread that dies outside a task (e.g. out of memory) is reported here; tasks in it fail on their own.
    pool.on('error', (err: unknown) => this.#logger.error({ err }, 'handler thread pool error'));
    this.#logger.info(
      { minThreads: c.min_threads, maxThreads: c.max_threads, maxQueue: c.max_queue },
      'handler thread pool started',
    );
    return pool;
  }

  /** A snapshot of the pool's state and counters. */
  get stats(): ThreadPoolStats {
    const p = this.#piscina;
    const c = this.#config;
    return {
      started: p !== undefined,
      closed: this.#closed,
      threads: p?.threads.length ?? 0,
      idleThreads: p?.idleThreads ?? 0,
      minThreads: c.min_threads,
      maxThreads: c.max_threads,
      maxQueue: c.max_queue,
      pending: this.#pending,
      queued: p?.queueSize ?? 0,
      utilization: p?.utilization ?? 0,
      submitted: this.#submitted,
      completed: this.#completed,
      backpressureRejections: this.#rejections,
    };
  }

  /**
   * Refuses new work and stops every thread. Call it after the handlers using the pool have finished; a task
   * still running is terminated.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const pool = this.#piscina;
    if (!pool) return;
    // A thread terminated by an abort reports its exit asynchronously; piscina then tops the pool up to
    // `minThreads`, which after close() would start a thread nobody stops. With a minimum of 0 it cannot.
    pool.options.minThreads = 0;
    try {
      await pool.close({ force: true });
    } catch (err) {
      this.#logger.warn({ err }, 'handler thread pool did not close cleanly; terminating its threads');
      await pool.destroy();
    }
  }
}
