import { fileURLToPath } from 'node:url';
import { resolve } from 'node:path';
import type { Logger } from 'pino';
import { LOG_LEVELS, loadConfig, type LogLevel, type TaskerConfig } from '../config/index.js';
import { createLogger } from '../observability/logger.js';
import { handlersFromModule, type HandlerDefinition } from '../worker/handler.js';
import { loadTemplatesFromDir } from '../templates/index.js';
import type { TaskTemplate } from '../templates/types.js';
import { TaskerError } from '../errors.js';
import { importUserModule } from '../runtime/optional.js';

/** Options every command accepts. */
export interface GlobalOptions {
  env?: string;
  configDir?: string;
  databaseUrl?: string;
  logLevel?: string;
}

/** Loads configuration with precedence: flag, then environment variable, then file, then default. */
export function configFromOptions(opts: GlobalOptions, extraEnv: Record<string, string> = {}): TaskerConfig {
  const env: Record<string, string | undefined> = { ...process.env, ...extraEnv };
  if (opts.databaseUrl) env.DATABASE_URL = opts.databaseUrl;
  return loadConfig({
    env,
    ...(opts.env ? { environment: opts.env } : {}),
    ...(opts.configDir ? { configDir: resolve(opts.configDir) } : {}),
  });
}

export function loggerFor(config: TaskerConfig, opts: GlobalOptions, name: string): Logger {
  const level = opts.logLevel ?? config.common.logging.level;
  if (!(LOG_LEVELS as readonly string[]).includes(level)) {
    throw new TaskerError(
      'CONFIG_INVALID',
      `--log-level must be one of ${LOG_LEVELS.join(', ')} (got '${level}')`,
    );
  }
  return createLogger({ level: level as LogLevel, name });
}

/** Imports a handlers module (TypeScript or JavaScript) and collects the handlers it exports. */
export async function loadHandlers(path: string): Promise<HandlerDefinition[]> {
  const mod = await importUserModule(path);
  const handlers = handlersFromModule(mod);
  if (handlers.length === 0) {
    throw new TaskerError(
      'HANDLER_NOT_FOUND',
      `${path} exports no handlers (export the results of defineHandler)`,
    );
  }
  return handlers;
}

export async function loadTemplates(dir: string | undefined): Promise<TaskTemplate[]> {
  if (!dir) return [];
  return loadTemplatesFromDir(resolve(dir));
}

/** Runs `stop` on the first SIGINT/SIGTERM; a second signal exits at once. */
export function onShutdownSignal(stop: () => Promise<void>, logger: Logger): void {
  let stopping = false;
  const handler = (signal: string): void => {
    if (stopping) {
      logger.warn({ signal }, 'second signal: exiting now');
      process.exit(130);
    }
    stopping = true;
    logger.info({ signal }, 'shutting down');
    stop().then(
      () => process.exit(0),
      (e: unknown) => {
        logger.error({ err: e }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
}

/** The example workflows: the TypeScript sources from src/, their compiled copy (dist/examples/) from dist/. */
export const EXAMPLES_DIR = fileURLToPath(
  new URL(import.meta.url.endsWith('.ts') ? '../../examples/' : '../examples/', import.meta.url),
);
