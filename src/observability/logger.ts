import { createRequire } from 'node:module';
import type { LOG_FORMATS } from '../config/schema.js';
import pino, { type DestinationStream, type Logger, type LevelWithSilent } from 'pino';

export type { Logger } from 'pino';

/** How log lines are written: `json` lines, `pretty` one line per event, or `auto` (pretty on a terminal). */
export type LogFormat = (typeof LOG_FORMATS)[number];

/** Options of {@link createLogger}. */
export interface CreateLoggerOptions {
  level?: LevelWithSilent;
  name?: string;
  /** Default `json`. `auto` is pretty when standard output is a terminal and JSON otherwise. */
  format?: LogFormat;
  /** Where lines go (default standard output); with `auto`, pretty only when this is a terminal. */
  destination?: NodeJS.WritableStream & { isTTY?: boolean };
  /** Environment consulted for `NO_COLOR` (default `process.env`). */
  env?: NodeJS.ProcessEnv;
}

/** The pieces of pino-pretty this module uses. */
type PrettyFactory = (options: Record<string, unknown>) => DestinationStream;

let prettyModule: PrettyFactory | null | undefined;

/**
 * pino-pretty is an optional dependency: loaded only when a terminal wants pretty lines, so installs that only
 * ever log JSON (containers, CI) need not carry it. Undefined when it is not installed.
 */
function loadPretty(): PrettyFactory | undefined {
  if (prettyModule === undefined) {
    try {
      const require = createRequire(import.meta.url);
      const mod = require('pino-pretty') as PrettyFactory | { default: PrettyFactory };
      prettyModule = typeof mod === 'function' ? mod : mod.default;
    } catch {
      prettyModule = null;
    }
  }
  return prettyModule ?? undefined;
}

/**
 * Creates the process logger. JSON lines by default; with `format: 'pretty'` (or `'auto'` on a terminal) one
 * readable line per event, coloured unless `NO_COLOR` is set. Pretty output needs the optional `pino-pretty`
 * package; without it the logger falls back to JSON and says so once.
 */
export function createLogger(options: CreateLoggerOptions = {}): Logger {
  const env = options.env ?? process.env;
  const out = options.destination ?? process.stdout;
  const format = options.format ?? 'json';
  const wantsPretty = format === 'pretty' || (format === 'auto' && out.isTTY === true);
  const base = { name: options.name ?? 'tasker', level: options.level ?? 'info' };
  if (wantsPretty) {
    const pretty = loadPretty();
    if (pretty) {
      const stream = pretty({
        destination: out,
        singleLine: true,
        colorize: out.isTTY === true && (env.NO_COLOR ?? '') === '',
        translateTime: 'SYS:HH:MM:ss.l',
        ignore: 'pid,hostname',
        sync: true,
      });
      return pino(base, stream);
    }
  }
  const logger = options.destination ? pino(base, options.destination as DestinationStream) : pino(base);
  if (wantsPretty) logger.warn('pino-pretty is not installed: logging JSON lines (npm install pino-pretty)');
  return logger;
}

/** A logger that discards everything (library default when the caller passes none). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}

/** How a logger made by {@link childLogger} was derived, so a grandchild can rebind a key instead of repeating it. */
interface Lineage {
  base: Logger;
  bindings: Record<string, unknown>;
  /** Keys bound on `base` itself (a logger Tasker was given): they cannot be removed, so they are not rebound. */
  reserved: ReadonlySet<string>;
}
const lineage = new WeakMap<Logger, Lineage>();

/**
 * A child logger with `bindings`, where a key the parent already binds (e.g. `component`) is replaced rather
 * than written twice: pino appends child bindings to the line as they are, so `child({ component })` of a
 * logger that has one would emit the key twice, which JSON parsers resolve differently. Use this instead of
 * `logger.child` inside Tasker. Keys bound on a logger handed to Tasker keep that logger's value.
 */
export function childLogger(parent: Logger, bindings: Record<string, unknown>): Logger {
  const from = lineage.get(parent) ?? {
    base: parent,
    bindings: {},
    reserved: new Set(Object.keys(parent.bindings())),
  };
  const own: Record<string, unknown> = {};
  for (const [key, value] of Object.entries({ ...from.bindings, ...bindings })) {
    if (!from.reserved.has(key)) own[key] = value;
  }
  const child = from.base.child(own, { level: parent.level });
  lineage.set(child, { base: from.base, bindings: own, reserved: from.reserved });
  return child;
}

/** What identifies one step attempt in the log lines of its handler. */
export interface StepLogFields {
  taskUuid: string;
  stepUuid: string;
  stepName: string;
  attempt: number;
}

/** The `ctx.logger` a handler gets: the worker's logger bound to the task, step and attempt it runs. */
export function stepLogger(parent: Logger, step: StepLogFields): Logger {
  return childLogger(parent, {
    taskUuid: step.taskUuid,
    stepUuid: step.stepUuid,
    stepName: step.stepName,
    attempt: step.attempt,
  });
}
