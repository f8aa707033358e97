import type { Logger } from 'pino';
import {
  acquireSharedListener,
  type NotificationListenerOptions,
  type SharedListenerHandle,
} from '../messaging/listener.js';
import { CHANNELS } from '../contract/names.js';

/** The states in which a task is finished. */
export type FinishedTaskState = 'complete' | 'error' | 'cancelled' | 'resolved_manually';

const FINISHED: ReadonlySet<string> = new Set<FinishedTaskState>([
  'complete',
  'error',
  'cancelled',
  'resolved_manually',
]);

/** A task reached a finished state (delivered once its finalizing transaction committed). */
export interface TaskFinishedEvent {
  taskUuid: string;
  state: FinishedTaskState;
}

/**
 * Told that a task finished (with its state), or, with `undefined`, that the listener (re)connected and a
 * notification may have been missed, so the waiter should read the task's state once.
 */
export type FinishWaiter = (state: FinishedTaskState | undefined) => void;

/**
 * The process-wide registry of everyone waiting for tasks to finish, for one database: one subscription on the
 * process's shared LISTEN connection, waiters keyed by task uuid, and the `onTaskFinished` listeners.
 */
export class FinishedRegistry {
  readonly #waiters = new Map<string, Set<FinishWaiter>>();
  readonly #listeners = new Set<(event: TaskFinishedEvent) => void>();
  readonly #logger: Logger;

  constructor(logger: Logger) {
    this.#logger = logger;
  }

  /** Number of tasks someone is waiting for (tests, diagnostics). */
  get waitingTasks(): number {
    return this.#waiters.size;
  }

  /** Registers a waiter for one task; returns its removal. */
  wait(taskUuid: string, waiter: FinishWaiter): () => void {
    const key = taskUuid.toLowerCase();
    let set = this.#waiters.get(key);
    if (!set) {
      set = new Set();
      this.#waiters.set(key, set);
    }
    set.add(waiter);
    return () => {
      set.delete(waiter);
      if (set.size === 0 && this.#waiters.get(key) === set) this.#waiters.delete(key);
    };
  }

  /** Registers a listener for every finished task; returns its removal. */
  listen(listener: (event: TaskFinishedEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => {
      this.#listeners.delete(listener);
    };
  }

  /** Handles one notification of the channel (`undefined`: the listener (re)connected). */
  dispatch(payload: string | undefined): void {
    if (payload === undefined) {
      for (const set of [...this.#waiters.values()]) for (const w of [...set]) this.#call(w, undefined);
      return;
    }
    for (const item of payload.split(',')) {
      const sep = item.indexOf(':');
      const taskUuid = item.slice(0, sep);
      const state = item.slice(sep + 1);
      if (sep < 0 || !FINISHED.has(state)) {
        this.#logger.warn({ item }, 'malformed task-finished notification ignored');
        continue;
      }
      const event: TaskFinishedEvent = { taskUuid, state: state as FinishedTaskState };
      for (const w of [...(this.#waiters.get(taskUuid) ?? [])]) this.#call(w, event.state);
      for (const l of [...this.#listeners]) {
        try {
          l(event);
        } catch (e) {
          this.#logger.error({ err: e, taskUuid }, 'onTaskFinished listener threw');
        }
      }
    }
  }

  #call(waiter: FinishWaiter, state: FinishedTaskState | undefined): void {
    try {
      waiter(state);
    } catch (e) {
      this.#logger.error({ err: e }, 'task waiter threw');
    }
  }
}

interface RegistryEntry {
  registry: FinishedRegistry;
  refs: number;
  ready: Promise<{ listener: SharedListenerHandle; unsubscribe: () => void }>;
}

const registries = new Map<string, RegistryEntry>();

/** A reference to the process's registry for one database; `release()` lets go of it. */
export interface FinishedRegistryHandle {
  registry: FinishedRegistry;
  release(): Promise<void>;
}

async function startRegistry(
  registry: FinishedRegistry,
  options: NotificationListenerOptions,
): Promise<{ listener: SharedListenerHandle; unsubscribe: () => void }> {
  const listener = await acquireSharedListener(options);
  try {
    const unsubscribe = await listener.listener.subscribe(CHANNELS.TaskFinished, (_channel, payload) =>
      registry.dispatch(payload),
    );
    return { listener, unsubscribe };
  } catch (e) {
    await listener.release();
    throw e;
  }
}

/**
 * Returns the process-wide registry for `options.url`, subscribing it to the shared listener on first use.
 * Resolves once the LISTEN is active, so a task that finishes afterwards is always heard of.
 */
export async function acquireFinishedRegistry(
  options: NotificationListenerOptions,
): Promise<FinishedRegistryHandle> {
  let entry = registries.get(options.url);
  if (!entry) {
    const registry = new FinishedRegistry(options.logger);
    const created: RegistryEntry = { registry, refs: 0, ready: startRegistry(registry, options) };
    created.ready.catch(() => {
      if (registries.get(options.url) === created) registries.delete(options.url);
    });
    registries.set(options.url, created);
    entry = created;
  }
  const current = entry;
  current.refs += 1;
  let started: Awaited<RegistryEntry['ready']>;
  try {
    started = await current.ready;
  } catch (e) {
    current.refs -= 1;
    throw e;
  }
  let released = false;
  return {
    registry: current.registry,
    async release() {
      if (released) return;
      released = true;
      current.refs -= 1;
      if (current.refs > 0) return;
      if (registries.get(options.url) === current) registries.delete(options.url);
      started.unsubscribe();
      await started.listener.release();
    },
  };
}
