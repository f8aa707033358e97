/**
 * The module every thread of a worker's handler thread pool loads (piscina's task function). It imports the
 * handler's module inside the thread, calls the named export with the step's context, and answers with a plain
 * outcome: the result as JSON, or the error flattened with its retry classification. Errors are flattened here
 * because structured cloning keeps neither an error's class nor its extra properties (`code`, `retryAfterMs`).
 *
 * Keep the imports of this file light: they are loaded once per thread before its first task.
 *
 * @internal
 */
import { FAILURE_CODES, type FailureName } from '../contract/names.js';
import { coerceError, handlerErrorKind } from '../errors.js';
import { ensureTypeScriptLoader } from '../runtime/optional.js';
import type { ThreadStepContext } from './handler.js';

/** One task posted to the pool. @internal */
export interface ThreadTask {
  /** Registered handler name (for messages). */
  handler: string;
  /** `file:` URL of the handler module. */
  module: string;
  exportName: string;
  ctx: ThreadStepContext;
}

/** How the worker records a thread handler's error. @internal */
export type ThreadErrorKind = 'permanent' | 'retryable' | 'error';

/** A thread handler's error as it crosses back to the worker. @internal */
export interface SerializedThreadError {
  kind: ThreadErrorKind;
  name: string;
  message: string;
  stack?: string;
  code?: string;
  retryAfterMs?: number;
}

/** What a thread task answers. The result travels as JSON text: it is stored as JSON anyway. @internal */
export type ThreadOutcome = { ok: true; json: string } | { ok: false; error: SerializedThreadError };

/**
 * Flattens anything a thread handler threw, classified by {@link handlerErrorKind}: by brand (a `PermanentError`
 * or `RetryableError` from any copy of this package), else by convention (`name`, `retryable`), so that handler
 * modules need not share the worker's copy of this package.
 *
 * @internal
 */
export function serializeThreadError(thrown: unknown): SerializedThreadError {
  const err = coerceError(thrown);
  const name = typeof err.name === 'string' && err.name !== '' ? err.name : 'Error';
  const verdict = handlerErrorKind(err);
  return {
    kind: verdict.kind,
    name,
    message: String(err.message),
    ...(typeof err.stack === 'string' ? { stack: err.stack } : {}),
    ...(verdict.code !== undefined ? { code: verdict.code } : {}),
    ...(verdict.retryAfterMs !== undefined ? { retryAfterMs: verdict.retryAfterMs } : {}),
  };
}

const TS_MODULE = /\.[cm]?tsx?$/;

/** A permanent engine-made failure: recorded with the failure's name and its code from the contract. */
function permanent(name: FailureName, message: string): ThreadOutcome {
  return { ok: false, error: { kind: 'permanent', name, code: FAILURE_CODES[name], message } };
}

/** Runs one thread-handler task (piscina calls this in a pool thread). @internal */
export async function runThreadTask(task: ThreadTask): Promise<ThreadOutcome> {
  let fn: unknown;
  try {
    // Node 20 does not run `module.register()` hooks (tsx's `--import`) in worker threads, so a `.ts` handler
    // module needs tsx's ESM hooks registered in this thread first (once per thread; tsx is optional).
    if (TS_MODULE.test(new URL(task.module).pathname)) await ensureTypeScriptLoader(task.module);
    const mod = (await import(task.module)) as Record<string, unknown>;
    fn = mod[task.exportName];
  } catch (e) {
    // A module that cannot load fails every attempt the same way: like a missing handler, it is permanent.
    const err = coerceError(e);
    return permanent(
      'HandlerNotFound',
      `thread handler '${task.handler}': cannot load ${task.module}: ${err.message}`,
    );
  }
  if (typeof fn !== 'function') {
    return permanent(
      'HandlerNotFound',
      `thread handler '${task.handler}': ${task.module} has no exported function '${task.exportName}'`,
    );
  }
  let value: unknown;
  try {
    value = await (fn as (ctx: ThreadStepContext) => unknown)(task.ctx);
  } catch (thrown) {
    return { ok: false, error: serializeThreadError(thrown) };
  }
  let json: string | undefined;
  let problem = 'it has no JSON form';
  try {
    // Serialized here, in the thread, so that a large result costs the event loop only the parse.
    json = JSON.stringify(value === undefined ? null : value);
  } catch (e) {
    problem = coerceError(e).message;
  }
  if (json === undefined) {
    return permanent('ResultNotSerializable', `handler result is not JSON-serializable: ${problem}`);
  }
  return { ok: true, json };
}

export default runThreadTask;
