/**
 * Loading the user's own modules (handlers, DSL templates) from the command line: JavaScript through Node's
 * `import()`, TypeScript through tsx, which is loaded only then (it is an optional dependency).
 */
import { existsSync, statSync } from 'node:fs';
import { extname, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ErrorCode, TaskerError, TemplateValidationError, type ValidationIssue } from '../errors.js';
import { UsageError } from './exit-codes.js';
import { ensureTypeScriptLoader } from '../runtime/optional.js';

/** Extensions loaded as modules; TypeScript ones need tsx. */
export const MODULE_EXTENSIONS = ['.js', '.mjs', '.cjs', '.ts', '.mts', '.cts'] as const;
const TYPESCRIPT_EXTENSIONS = new Set(['.ts', '.mts', '.cts']);

/** True when `path` names a file this loader imports (by extension). */
export function isModulePath(path: string): boolean {
  return (MODULE_EXTENSIONS as readonly string[]).includes(extname(path).toLowerCase());
}

let tsxRegistered: Promise<void> | undefined;

/**
 * Registers tsx's loader for the rest of the process, once. A global registration (not tsx's namespaced
 * `tsImport`) matters: the user's module must share Tasker's module instances, or `instanceof` checks on the
 * errors its handlers throw (RetryableError, PermanentError) would fail.
 */
function registerTsx(): Promise<void> {
  tsxRegistered ??= ensureTypeScriptLoader('this module').catch((e: unknown) => {
    tsxRegistered = undefined;
    if (e instanceof TaskerError && e.code === ErrorCode.ConfigInvalid) {
      throw new UsageError(
        'install tsx to load TypeScript modules (or compile them)',
        'npm install tsx, or point at the compiled .js file',
      );
    }
    throw e;
  });
  return tsxRegistered;
}

/**
 * Imports a TypeScript module. When the process can already load TypeScript (the CLI started through tsx, or a
 * Node version that strips types), that is used as it is: a second tsx registration would make tsx load the
 * module twice over. Otherwise tsx is registered and the module imported again under a new URL, since the
 * failed attempt may be remembered for the old one.
 */
async function importTypeScript(url: string): Promise<Record<string, unknown>> {
  if (tsxRegistered === undefined) {
    try {
      return (await import(url)) as Record<string, unknown>;
    } catch (e) {
      if ((e as { code?: unknown }).code !== 'ERR_UNKNOWN_FILE_EXTENSION') throw e;
    }
  }
  await registerTsx();
  return (await import(`${url}?tsx`)) as Record<string, unknown>;
}

/**
 * Imports the module at `path` (`what` names it in messages, e.g. "handlers module"). A missing file, a
 * directory, or an unsupported extension is a usage error with a hint; an error thrown while the module
 * runs is reported with its message (Tasker's own errors, e.g. an invalid template, pass through as they are).
 */
export async function importUserModule(path: string, what: string): Promise<Record<string, unknown>> {
  const file = resolve(path);
  if (!existsSync(file)) {
    throw new UsageError(
      `${what} not found: ${path}`,
      'check the path (relative paths start at the current directory)',
    );
  }
  if (statSync(file).isDirectory()) throw new UsageError(`${what} must be a file, not a directory: ${path}`);
  const ext = extname(file).toLowerCase();
  if (!isModulePath(file)) {
    throw new UsageError(
      `${what} must be a JavaScript or TypeScript module (${MODULE_EXTENSIONS.join(', ')}): ${path}`,
    );
  }
  const url = pathToFileURL(file).href;
  try {
    if (TYPESCRIPT_EXTENSIONS.has(ext)) return await importTypeScript(url);
    return (await import(url)) as Record<string, unknown>;
  } catch (e) {
    if (e instanceof TaskerError || e instanceof UsageError) throw e;
    // A module that imports Tasker by another path (another copy) throws errors that are not instances of ours.
    const invalid = asTemplateValidationError(e);
    if (invalid) throw invalid;
    const message = e instanceof Error ? e.message : String(e);
    throw new UsageError(`cannot load ${what} ${path}: ${message}`);
  }
}

/** An invalid DSL template thrown while a module loaded (by `build()`), as this process's error class. */
function asTemplateValidationError(e: unknown): TemplateValidationError | undefined {
  if (!(e instanceof Error)) return undefined;
  const { code, issues } = e as { code?: unknown; issues?: unknown };
  if (code !== ErrorCode.TemplateInvalid || !Array.isArray(issues)) return undefined;
  return new TemplateValidationError(e.message.split('\n')[0] ?? e.message, issues as ValidationIssue[]);
}
