/**
 * Optional dependencies: packages a production install may leave out (`npm install --omit=optional`) because only
 * some commands need them: the embedded PostgreSQL (`tasker dev` without DATABASE_URL, `tasker/testing`), tsx
 * (loading TypeScript handler and template modules) and the OpenTelemetry SDK (tracing). Each is imported only
 * when used, and a missing one is named in a clear error instead of a bare "Cannot find package".
 */
import { pathToFileURL } from 'node:url';
import { resolve } from 'node:path';
import type * as TsxApi from 'tsx/esm/api';
import { ErrorCode, TaskerError } from '../errors.js';

/** The package a specifier names (`@scope/name` or `name`, without a subpath). */
function packageOf(specifier: string): string {
  const parts = specifier.split('/');
  return (specifier.startsWith('@') ? parts.slice(0, 2) : parts.slice(0, 1)).join('/');
}

/** True when `e` is Node's "that package is not installed" for `pkg` (not a failure inside it). */
function isMissing(e: unknown, pkg: string): boolean {
  const err = e as { code?: unknown; message?: unknown } | null;
  return (
    (err?.code === 'ERR_MODULE_NOT_FOUND' || err?.code === 'MODULE_NOT_FOUND') &&
    typeof err.message === 'string' &&
    (err.message.includes(`'${pkg}'`) || err.message.includes(`'${pkg}/`))
  );
}

/**
 * Imports an optional dependency; when it is not installed, fails with a `CONFIG_INVALID` {@link TaskerError}
 * that says what to install and what for (`purpose`, e.g. "to run tasker dev without DATABASE_URL").
 */
export async function importOptional<T>(specifier: string, purpose: string): Promise<T> {
  try {
    return (await import(specifier)) as T;
  } catch (e) {
    const pkg = packageOf(specifier);
    if (!isMissing(e, pkg)) throw e;
    throw new TaskerError(
      ErrorCode.ConfigInvalid,
      `install ${pkg} ${purpose} (it is an optional dependency of tasker: npm install ${pkg})`,
      { cause: e },
    );
  }
}

const TS_MODULE = /\.[cm]?tsx?$/;
/** This module runs from TypeScript sources (tsx, vitest), whose loader already handles `.ts` imports. */
const FROM_SOURCE = import.meta.url.endsWith('.ts');
let tsxRegistered: Promise<void> | undefined;

/** Registers tsx's ESM hooks in this thread, once, so that `.ts` modules can be imported. */
export function ensureTypeScriptLoader(what: string): Promise<void> {
  tsxRegistered ??= importOptional<typeof TsxApi>(
    'tsx/esm/api',
    `to load TypeScript modules such as ${what} (or compile it to JavaScript)`,
  ).then(({ register }) => {
    register();
  });
  // A failed attempt is not cached: installing tsx and retrying in the same process should work.
  tsxRegistered.catch(() => (tsxRegistered = undefined));
  return tsxRegistered;
}

/**
 * Imports an application module (handlers, templates, example tasks) by path or `file:` URL. A TypeScript module
 * is loaded through tsx (optional) when this package runs compiled; JavaScript needs nothing.
 */
export async function importUserModule(pathOrUrl: string): Promise<Record<string, unknown>> {
  const url = pathOrUrl.startsWith('file:') ? pathOrUrl : pathToFileURL(resolve(pathOrUrl)).href;
  if (!FROM_SOURCE && TS_MODULE.test(new URL(url).pathname)) await ensureTypeScriptLoader(pathOrUrl);
  return (await import(url)) as Record<string, unknown>;
}
