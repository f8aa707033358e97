import type { BatchContext, CheckpointData } from './dynamic.js';
import { isAbsolute } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Logger } from 'pino';

/** What a handler receives for one attempt of one step. */
export interface StepContext<TContext extends Record<string, unknown> = Record<string, unknown>> {
  taskUuid: string;
  stepUuid: string;
  stepName: string;
  namespace: string;
  templateName: string;
  templateVersion: string;
  correlationId: string;
  /** The task's input, exactly as given at creation. */
  context: TContext;
  /** The step's static inputs from the template (`handler.initialization`). */
  inputs: Record<string, unknown>;
  /** Results of every ancestor step, by step name (each is what that step's handler returned). */
  dependencyResults: Record<string, unknown>;
  /** 1 on the first execution, 2 on the first retry, ... */
  attempt: number;
  maxAttempts: number;
  /** Fires when the step times out, is cancelled, or the worker shuts down: stop work and return or throw. */
  signal: AbortSignal;
  logger: Logger;
  /** For a batch worker instance: its range and where to resume; undefined for other steps. */
  batch?: BatchContext;
  /**
   * Saves progress at once (one round trip); a retried attempt of this step sees it as `ctx.batch.checkpoint`
   * and resumes from `ctx.batch.resumeFrom`. Refused (false) when this attempt no longer owns the step.
   */
  checkpoint(data: CheckpointData): Promise<boolean>;
}

/** A step handler: returns the step's result (any JSON value) or throws. */
export type StepHandlerFn<
  TContext extends Record<string, unknown> = Record<string, unknown>,
  TResult = unknown,
> = (ctx: StepContext<TContext>) => Promise<TResult> | TResult;

/**
 * What a thread handler receives: the step context without the parts that cannot cross a thread boundary
 * (no `signal`, no `logger`). Every field is structured-cloneable (it came from JSON).
 */
export type ThreadStepContext<TContext extends Record<string, unknown> = Record<string, unknown>> = Omit<
  StepContext<TContext>,
  'signal' | 'logger' | 'checkpoint'
> & {
  /** The worker process that runs the step. */
  workerId: string;
};

/**
 * A function exported by a thread-handler module. It runs in a worker thread; its result must be JSON-serializable.
 * Throw an error named `PermanentError` (or with `retryable: false`) to fail the step at once, one named
 * `RetryableError` (optionally with `retryAfterMs`) to ask for a retry after a delay; anything else is retried
 * with backoff, as for in-process handlers. A `code` property is kept.
 */
export type ThreadHandlerFn<
  TContext extends Record<string, unknown> = Record<string, unknown>,
  TResult = unknown,
> = (ctx: ThreadStepContext<TContext>) => Promise<TResult> | TResult;

/** Where a thread handler's code lives: a module (file URL) and the name of the export to call. */
export interface ThreadHandlerTarget {
  /** `file:` URL of the module, as loaded in the thread. */
  readonly module: string;
  /** Name of the exported function (`default` for the default export). */
  readonly exportName: string;
}

/** A named handler, as registered with a worker. */
export interface HandlerDefinition {
  readonly name: string;
  readonly fn: StepHandlerFn;
  /** Set for handlers made with {@link defineThreadHandler}: the worker runs them in its thread pool. */
  readonly thread?: ThreadHandlerTarget;
}

const HANDLER_NAME = /^[A-Za-z_][A-Za-z0-9_.:/-]{0,499}$/;

/**
 * Defines a step handler. `name` is what templates reference as the step's handler (`handler.callable`).
 *
 * @example
 * export const charge = defineHandler('payments.charge', async (ctx) => {
 *   const order = ctx.dependencyResults.validate_order as { total: number };
 *   return { charged: order.total };
 * });
 */
export function defineHandler<
  TContext extends Record<string, unknown> = Record<string, unknown>,
  TResult = unknown,
>(name: string, fn: StepHandlerFn<TContext, TResult>): HandlerDefinition {
  if (!HANDLER_NAME.test(name)) {
    throw new TypeError(`invalid handler name '${name}': use letters, digits and . _ : / - (max 500)`);
  }
  if (typeof fn !== 'function') throw new TypeError(`handler '${name}' must be a function`);
  return Object.freeze({ name, fn: fn as StepHandlerFn });
}

/**
 * Defines a handler that runs in the worker's thread pool (`worker.thread_pool`), for CPU-bound work that would
 * otherwise stall claims, heartbeats and completions on the event loop. Functions cannot cross threads, so the
 * handler is named by module and export; the module is imported inside the thread (`.ts` modules work under tsx).
 * The step's timeout, cancellation and shutdown terminate the thread running it (a fresh thread replaces it).
 *
 * @param module the module's `file:` URL (e.g. `new URL('./crunch.js', import.meta.url)`) or absolute path
 * @param exportName the exported {@link ThreadHandlerFn} to call (default: the default export)
 *
 * @example
 * export const crunch = defineThreadHandler('reports.crunch', new URL('./crunch.js', import.meta.url), 'crunch');
 */
export function defineThreadHandler(
  name: string,
  module: string | URL,
  exportName = 'default',
): HandlerDefinition {
  if (!HANDLER_NAME.test(name)) {
    throw new TypeError(`invalid handler name '${name}': use letters, digits and . _ : / - (max 500)`);
  }
  const href = threadModuleHref(name, module);
  if (!/^[A-Za-z_$][\w$]*$/.test(exportName)) {
    throw new TypeError(`thread handler '${name}': '${exportName}' is not a valid export name`);
  }
  const fn: StepHandlerFn = () => {
    // Only a worker's thread pool runs these; reaching here means some caller bypassed it.
    throw new TypeError(`thread handler '${name}' runs only in a worker's thread pool`);
  };
  return Object.freeze({ name, fn, thread: Object.freeze({ module: href, exportName }) });
}

function threadModuleHref(name: string, module: string | URL): string {
  if (module instanceof URL) {
    if (module.protocol !== 'file:') {
      throw new TypeError(`thread handler '${name}': module must be a file: URL, got ${module.protocol}`);
    }
    return module.href;
  }
  if (module.startsWith('file:')) return new URL(module).href;
  if (isAbsolute(module)) return pathToFileURL(module).href;
  throw new TypeError(
    `thread handler '${name}': module must be a file URL or an absolute path ` +
      `(e.g. new URL('./crunch.js', import.meta.url)), got '${module}'`,
  );
}

function sameHandler(a: HandlerDefinition, b: HandlerDefinition): boolean {
  if (a.thread || b.thread) {
    return a.thread?.module === b.thread?.module && a.thread?.exportName === b.thread?.exportName;
  }
  return a.fn === b.fn;
}

/** Handlers by name. Registering two different functions under one name is an error. */
export class HandlerRegistry {
  readonly #handlers = new Map<string, HandlerDefinition>();

  constructor(handlers: Iterable<HandlerDefinition> = []) {
    for (const h of handlers) this.register(h);
  }

  register(handler: HandlerDefinition): void {
    const existing = this.#handlers.get(handler.name);
    if (existing && !sameHandler(existing, handler)) {
      throw new TypeError(`handler '${handler.name}' is registered twice with different functions`);
    }
    this.#handlers.set(handler.name, handler);
  }

  get(name: string): HandlerDefinition | undefined {
    return this.#handlers.get(name);
  }

  has(name: string): boolean {
    return this.#handlers.has(name);
  }

  names(): ReadonlySet<string> {
    return new Set(this.#handlers.keys());
  }

  get size(): number {
    return this.#handlers.size;
  }

  /** Whether any registered handler runs in the thread pool (the pool is created only then). */
  get hasThreadHandlers(): boolean {
    for (const h of this.#handlers.values()) if (h.thread) return true;
    return false;
  }
}

/** Collects handler definitions from a module's exports (any export that is a HandlerDefinition, or arrays). */
export function handlersFromModule(mod: Record<string, unknown>): HandlerDefinition[] {
  const found: HandlerDefinition[] = [];
  const visit = (v: unknown): void => {
    if (Array.isArray(v)) {
      v.forEach(visit);
    } else if (
      v !== null &&
      typeof v === 'object' &&
      typeof (v as HandlerDefinition).name === 'string' &&
      typeof (v as HandlerDefinition).fn === 'function'
    ) {
      found.push(v as HandlerDefinition);
    }
  };
  Object.values(mod).forEach(visit);
  return found;
}
