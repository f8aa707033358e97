import { fileURLToPath } from 'node:url';
import { resolve } from 'node:path';
import type { Logger } from 'pino';
import { LOG_LEVELS, loadConfig, type LogLevel, type TaskerConfig } from '../config/index.js';
import { createLogger } from '../observability/logger.js';
import { handlersFromModule, type HandlerDefinition } from '../worker/handler.js';
import type { TaskTemplate } from '../templates/types.js';
import { TaskerError } from '../errors.js';
import { UsageError } from './exit-codes.js';
import { importUserModule } from './module-loader.js';
import { loadTemplateSources } from './template-sources.js';

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
    ...(opts.configDir ? { overlayDir: resolve(opts.configDir) } : {}),
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
  return createLogger({ level: level as LogLevel, name, format: config.common.logging.format });
}

/** Imports a handlers module (TypeScript or JavaScript) and collects the handlers it exports. */
export async function loadHandlers(path: string): Promise<HandlerDefinition[]> {
  const handlers = handlersFromModule(await importUserModule(path, 'handlers module'));
  if (handlers.length === 0) {
    throw new UsageError(
      `${path} exports no handlers`,
      'export the results of defineHandler (each alone, or in an array)',
    );
  }
  return handlers;
}

/**
 * Templates from `--templates`: directories of YAML files, YAML files and modules exporting DSL templates
 * (see {@link loadTemplateSources}).
 */
export async function loadTemplates(paths: string | readonly string[] | undefined): Promise<TaskTemplate[]> {
  if (paths === undefined) return [];
  return loadTemplateSources(typeof paths === 'string' ? [paths] : paths);
}

/** Runs `stop` on the first SIGINT/SIGTERM; a second signal exits at once. */
export function onShutdownSignal(
  stop: () => Promise<void>,
  logger: Logger,
  options: {
    /**
     * The longest a graceful stop may take, in ms: past it the process exits anyway (code 1). Whatever it had
     * not finished is recovered from PostgreSQL (messages reappear after their visibility timeout).
     */
    deadlineMs?: number;
  } = {},
): void {
  let stopping = false;
  const handler = (signal: string): void => {
    if (stopping) {
      logger.warn({ signal }, 'second signal: exiting now');
      process.exit(130);
    }
    stopping = true;
    logger.info({ signal }, 'shutting down');
    if (options.deadlineMs !== undefined) {
      const deadlineMs = options.deadlineMs;
      setTimeout(() => {
        logger.error({ deadlineMs }, 'shutdown did not finish in time: exiting now');
        process.exit(1);
      }, deadlineMs).unref();
    }
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
