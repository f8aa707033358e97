import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { Logger } from 'pino';
import { loadConfig, type DeepPartial, type TaskerConfig } from '../config/index.js';
import { migrate } from '../db/migrate.js';
import { createPool } from '../db/pool.js';
import { coerceError, ErrorCode, TaskerError } from '../errors.js';
import { createOrchestrator, type Orchestrator } from '../orchestration/orchestrator.js';
import type { TaskResults } from '../results/outcome.js';
import type { ResultOptions } from '../results/source.js';
import type { TaskTemplate } from '../templates/types.js';
import type { HandlerDefinition } from '../worker/handler.js';
import { createWorker, type Worker } from '../worker/worker.js';
import { startEmbeddedPostgres } from './embedded-postgres.js';

/** Options of {@link createTestEngine}. */
export interface TestEngineOptions {
  /** The templates the engine runs (registered at start). */
  templates: readonly TaskTemplate[];
  /** Their handlers. */
  handlers: readonly HandlerDefinition[];
  /**
   * A PostgreSQL server to use (any database of it): default `DATABASE_URL`, and without either an embedded
   * PostgreSQL is started (and removed by `close()`). A fresh database is created on the server, migrated, and
   * dropped by `close()`, so tests never see each other's tasks and never touch existing data.
   */
  databaseUrl?: string;
  /** Configuration over the shipped `test` environment (fast polling, short timeouts, quiet logs). */
  overrides?: DeepPartial<TaskerConfig>;
  logger?: Logger;
}

/** Options of {@link TestEngine.run}. */
export interface RunOptions extends ResultOptions {
  /** Template version; the highest registered when omitted. */
  version?: string;
}

/** An orchestrator and a worker running in this process on a throw-away database. */
export interface TestEngine {
  /** The URL of the engine's own database. */
  readonly databaseUrl: string;
  readonly config: TaskerConfig;
  readonly orchestrator: Orchestrator;
  readonly worker: Worker;
  /**
   * Creates a task of `template` (a template object or its `namespace/name`) and resolves to its results by step
   * name; rejects with `TaskFailedError` / `TaskCancelledError` like `TaskHandle.result()`. Waits 30 s at most
   * unless `timeoutMs` says otherwise.
   */
  run(
    template: TaskTemplate | string,
    context?: Record<string, unknown>,
    options?: RunOptions,
  ): Promise<TaskResults>;
  /** Stops the worker and orchestrator and removes the database (and the embedded server, if one was started). */
  close(): Promise<void>;
}

const DEFAULT_RUN_TIMEOUT_MS = 30_000;

function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

async function adminQuery(url: string, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: url, application_name: 'tasker-testing' });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/** Runs the `cleanups` in reverse order, keeping the first error. */
async function unwind(cleanups: (() => Promise<void>)[]): Promise<void> {
  let first: unknown;
  for (const cleanup of cleanups.reverse()) {
    try {
      await cleanup();
    } catch (e) {
      first ??= e;
    }
  }
  cleanups.length = 0;
  if (first !== undefined) throw coerceError(first);
}

async function freshDatabase(serverUrl: string, cleanups: (() => Promise<void>)[]): Promise<string> {
  const name = `tasker_test_${randomBytes(6).toString('hex')}`;
  await adminQuery(serverUrl, `CREATE DATABASE ${name}`);
  cleanups.push(() => adminQuery(serverUrl, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
  const url = withDatabase(serverUrl, name);
  const pool = createPool({
    url,
    maxConnections: 1,
    idleTimeoutMs: 1000,
    acquireTimeoutMs: 10_000,
    statementTimeoutMs: 0,
    applicationName: 'tasker-testing',
  });
  try {
    await migrate(pool);
  } finally {
    await pool.end();
  }
  return url;
}

/**
 * Starts a whole engine in this process for tests: a fresh database (see {@link TestEngineOptions.databaseUrl}),
 * migrated, with an orchestrator and a worker running the given templates and handlers. Reuse one engine across
 * the tests of a file (`run()` as often as needed) and `close()` it at the end.
 *
 * @example
 * const engine = await createTestEngine({ templates: [checkout], handlers: [charge, ship] });
 * expect(await engine.run(checkout, { order: 1 })).toEqual({ charge: { ok: true }, ship: { shipped: true } });
 * await engine.close();
 */
export async function createTestEngine(options: TestEngineOptions): Promise<TestEngine> {
  const cleanups: (() => Promise<void>)[] = [];
  try {
    let serverUrl = options.databaseUrl ?? process.env.DATABASE_URL;
    if (!serverUrl) {
      const server = await startEmbeddedPostgres();
      cleanups.push(() => server.stop());
      serverUrl = server.url;
    }
    const url = await freshDatabase(serverUrl, cleanups);
    const config = loadConfig({
      environment: 'test',
      env: { DATABASE_URL: url },
      ...(options.overrides ? { overrides: options.overrides } : {}),
    });
    const logger = options.logger ? { logger: options.logger } : {};
    const orchestrator = createOrchestrator({ config, ...logger });
    cleanups.push(() => orchestrator.stop());
    const worker = createWorker({
      config,
      ...logger,
      templates: [...options.templates],
      handlers: [...options.handlers],
    });
    cleanups.push(() => worker.stop());
    await orchestrator.start();
    await worker.start();
    return {
      databaseUrl: url,
      config,
      orchestrator,
      worker,
      async run(template, context = {}, runOptions = {}) {
        const { version, ...wait } = runOptions;
        const request = templateRequest(template, options.templates, version);
        const task = await orchestrator.createTask({ ...request, context });
        return task.result({ timeoutMs: DEFAULT_RUN_TIMEOUT_MS, ...wait });
      },
      close: () => unwind(cleanups),
    };
  } catch (e) {
    await unwind(cleanups).catch(() => {});
    throw e;
  }
}

function templateRequest(
  template: TaskTemplate | string,
  known: readonly TaskTemplate[],
  version: string | undefined,
): { namespace: string; name: string; version?: string } {
  const [namespace, name] =
    typeof template === 'string' ? template.split('/', 2) : [template.namespace, template.name];
  if (!namespace || !name || !known.some((t) => t.namespace === namespace && t.name === name)) {
    const label = typeof template === 'string' ? template : `${template.namespace}/${template.name}`;
    throw new TaskerError(
      ErrorCode.TemplateNotFound,
      `template '${label}' is not one of this test engine's templates; pass it in createTestEngine({ templates })`,
    );
  }
  const v = version ?? (typeof template === 'string' ? undefined : template.version);
  return { namespace, name, ...(v ? { version: v } : {}) };
}

/**
 * Runs one task of `template` with `handlers` on a throw-away engine and database, and returns its results by
 * step name (rejecting like `TaskHandle.result()`); everything is removed afterwards. For many runs, reuse a
 * {@link createTestEngine} instead: starting an engine (and an embedded PostgreSQL) takes a while.
 */
export async function runTemplate(
  template: TaskTemplate,
  handlers: readonly HandlerDefinition[],
  options: Omit<TestEngineOptions, 'templates' | 'handlers'> &
    RunOptions & { context?: Record<string, unknown> } = {},
): Promise<TaskResults> {
  const { context, timeoutMs, signal, version, ...engineOptions } = options;
  const engine = await createTestEngine({ ...engineOptions, templates: [template], handlers });
  try {
    return await engine.run(template, context ?? {}, {
      ...(timeoutMs !== undefined ? { timeoutMs } : {}),
      ...(signal ? { signal } : {}),
      ...(version ? { version } : {}),
    });
  } finally {
    await engine.close();
  }
}
