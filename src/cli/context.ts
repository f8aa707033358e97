/** What every command gets: output, global flags, and (for API commands) a configured client. */
import type { Command } from 'commander';
import { TaskerClient } from '../client/index.js';
import { resolveClientSettings, type ClientFlags, type ClientSettings } from './client-config.js';
import type { GlobalOptions } from './common.js';
import { paletteFor, type Palette } from './colour.js';
import { UsageError } from './exit-codes.js';
import { jsonTextExceedsDepth, MAX_JSON_DEPTH_LIMIT } from '../json-depth.js';
import { printJson, println, type CliIo } from './io.js';

/** Every global flag of the CLI. */
export interface GlobalCliOptions extends GlobalOptions, ClientFlags {
  /** Machine-readable output. */
  json?: boolean;
}

/** The state of one CLI run shared by all commands. */
export interface CliRuntime {
  io: CliIo;
  /** Set by the command that ran; undefined for commands that keep running (orchestrator, worker). */
  exitCode: number | undefined;
}

/** What an API-talking command works with. */
export interface ApiCommandContext {
  io: CliIo;
  json: boolean;
  client: TaskerClient;
  settings: ClientSettings;
  /** Colours for human-readable output (none off a terminal or with NO_COLOR). */
  palette?: Palette;
}

/** The global flags as seen from `command` (a subcommand sees its ancestors' flags). */
export function globalsOf(command: Command): GlobalCliOptions {
  return command.optsWithGlobals<GlobalCliOptions>();
}

/** Builds the client from flags, environment and the CLI config file. */
export function apiContext(runtime: CliRuntime, command: Command): ApiCommandContext {
  const globals = globalsOf(command);
  const settings = resolveClientSettings(globals, runtime.io.env);
  const client = new TaskerClient({
    baseUrl: settings.url,
    ...(settings.apiKey === undefined ? {} : { apiKey: settings.apiKey }),
    ...(settings.token === undefined ? {} : { bearerToken: settings.token }),
    // A command-line user waits for a few quick retries, not for a long backoff.
    retry: { maxAttempts: 3, baseDelayMs: 200, maxDelayMs: 2000, maxRetryAfterMs: 10_000 },
  });
  const palette = paletteFor(runtime.io.isTTY, runtime.io.env);
  return { io: runtime.io, json: globals.json === true, client, settings, palette };
}

/**
 * Wraps a command action: runs it and records the exit code it returns (0 when it returns nothing). Errors
 * propagate to the top level, which prints them and picks the exit code.
 */
export function action<A extends unknown[]>(
  runtime: CliRuntime,
  fn: (...args: A) => Promise<number | void> | number | void,
): (...args: A) => Promise<void> {
  return async (...args: A) => {
    const code = await fn(...args);
    runtime.exitCode = code ?? 0;
  };
}

/**
 * Parses a JSON option value, naming the option when it is not valid JSON or nests deeper than any server
 * accepts (serializing such a value for the request would overflow the stack).
 */
export function parseJsonOption(value: string, option: string): unknown {
  if (jsonTextExceedsDepth(value, MAX_JSON_DEPTH_LIMIT)) {
    throw new UsageError(
      `${option} nests deeper than ${MAX_JSON_DEPTH_LIMIT} levels of objects and arrays; no Tasker server ` +
        'accepts that (orchestration.api.max_json_depth is at most ' +
        `${MAX_JSON_DEPTH_LIMIT}, 128 by default)`,
    );
  }
  try {
    return JSON.parse(value) as unknown;
  } catch (e) {
    throw new UsageError(`${option} is not valid JSON: ${e instanceof Error ? e.message : String(e)}`);
  }
}

/** Parses an integer option value within bounds. */
export function parseIntOption(value: string, option: string, min: number, max: number): number {
  const n = Number(value);
  if (!/^-?\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < min || n > max) {
    throw new UsageError(`${option} must be an integer from ${min} to ${max} (got '${value}')`);
  }
  return n;
}

/** Checks that an argument looks like a UUID, so a typo fails here instead of as a 400 from the server. */
export function requireUuid(value: string, what: string): string {
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(value)) {
    throw new UsageError(`${what} must be a UUID (got '${value}')`);
  }
  return value;
}

/**
 * Prints one page of a listing (or every page with `all`), as a table or as JSON, with a hint how to get the
 * next page.
 */
export async function printListing<T>(
  ctx: ApiCommandContext,
  options: { all?: boolean; noun: string },
  source: {
    page: () => Promise<{ items: T[]; next_cursor: string | null }>;
    iterate: () => AsyncIterable<T>;
  },
  format: (items: readonly T[]) => string,
): Promise<void> {
  let page: { items: T[]; next_cursor: string | null };
  if (options.all) {
    const items: T[] = [];
    for await (const item of source.iterate()) items.push(item);
    page = { items, next_cursor: null };
  } else {
    page = await source.page();
  }
  if (ctx.json) {
    printJson(ctx.io, page);
    return;
  }
  println(ctx.io, format(page.items));
  if (page.next_cursor !== null) {
    println(ctx.io, `more ${options.noun}: --cursor ${page.next_cursor} (or --all)`);
  }
}
