/** `tasker migrate`, `tasker orchestrator`, `tasker worker`: the engine's processes. */
import type { Command } from 'commander';
import type pg from 'pg';
import type { Logger } from 'pino';
import { createApiServer, type ApiServer } from '../../api/index.js';
import type { DegradationSource } from '../../api/route.js';
import type { TaskerConfig } from '../../config/index.js';
import { migrate } from '../../db/migrate.js';
import { createPool } from '../../db/pool.js';
import { createOrchestrator } from '../../orchestration/orchestrator.js';
import { createWorker } from '../../worker/worker.js';
import { setupTracing } from '../../observability/tracing.js';
import type { MetricSet } from '../../observability/metric-set.js';
import type { TaskMetrics } from '../../observability/task-metrics.js';
import { startWorkerWebServer } from '../../api/worker-server.js';
import type { DatabaseBreaker } from '../../resilience/breaker.js';
import { ChannelMonitor, type BoundedChannel } from '../../channels/index.js';
import { configFromOptions, loadHandlers, loadTemplates, loggerFor, onShutdownSignal } from '../common.js';
import { action, globalsOf, type CliRuntime } from '../context.js';
import { println } from '../io.js';
import { UsageError } from '../exit-codes.js';
import { dashboardNotice } from '../dashboard-notice.js';

/** What `--templates` accepts, for the help text. */
const TEMPLATES_HELP =
  'directories of *.yml/*.yaml files, YAML files, or .js/.ts modules exporting templates built with defineTemplate';
import { listenOrClose } from '../../runtime/listen.js';

/**
 * Starts the REST API on an orchestrator's pool when `orchestration.api.enabled` (and not `--no-api`).
 * Returns the server and its URL, or undefined when the API is off.
 */
export async function startApiIfEnabled(
  config: TaskerConfig,
  pool: pg.Pool,
  logger: Logger,
  processorId: string,
  wanted: boolean,
  engine: {
    breaker?: DatabaseBreaker;
    channels?: readonly BoundedChannel<unknown>[];
    /** The orchestrator's task counters, shared with the API's task creation (`orchestrator.metrics`). */
    taskMetrics?: TaskMetrics;
    /** Further metrics of the process for `/metrics`, e.g. `worker.metrics` when a worker runs here too. */
    metricSets?: readonly MetricSet[];
    /** The engine components whose degradations `/health` reports (orchestrator, worker). */
    degradationSources?: readonly DegradationSource[];
  } = {},
): Promise<{ server: ApiServer; url: string } | undefined> {
  if (!wanted || !config.orchestration.api.enabled) return undefined;
  // One monitor for the process's channels: /health and back-pressure read it, and it warns at 80 % full.
  const monitor = new ChannelMonitor({ logger });
  for (const channel of engine.channels ?? []) monitor.register(channel);
  monitor.start(10_000);
  const created = await createApiServer({
    config,
    pool,
    logger,
    processorId,
    channelMonitor: monitor,
    ...(engine.breaker ? { breaker: engine.breaker } : {}),
    ...(engine.taskMetrics ? { taskMetrics: engine.taskMetrics } : {}),
    ...(engine.metricSets ? { metricSets: engine.metricSets } : {}),
    ...(engine.degradationSources ? { degradationSources: engine.degradationSources } : {}),
  });
  const server: ApiServer = {
    ...created,
    close: async () => {
      monitor.stop();
      await created.close();
    },
  };
  return listenOrClose(server);
}

/**
 * How long a worker process may take to stop: the handlers' grace period, the time an aborted handler gets
 * before it is abandoned, and a margin for writing the last outcomes and handing back the rest.
 */
export function workerShutdownDeadlineMs(config: TaskerConfig): number {
  return config.worker.shutdown_timeout_ms + config.worker.abandon_timeout_ms + 5_000;
}

/** `tasker migrate`: applies the migrations and function files over a pool of one connection. */
async function runMigrate(runtime: CliRuntime, cmd: Command): Promise<void> {
  const globals = globalsOf(cmd);
  const config = configFromOptions(globals);
  const logger = loggerFor(config, globals, 'tasker-migrate');
  const pool = createPool({
    url: config.common.database.url,
    maxConnections: 1,
    idleTimeoutMs: 1000,
    acquireTimeoutMs: config.common.database.pool.acquire_timeout_ms,
    statementTimeoutMs: 0,
    applicationName: 'tasker-migrate',
  });
  try {
    const result = await migrate(pool, { logger });
    println(
      runtime.io,
      `applied ${result.applied.length} migration(s); ${result.alreadyApplied} already applied; ` +
        `${result.functionsApplied.length} function(s) defined`,
    );
  } finally {
    await pool.end();
  }
}

/** Options of `tasker orchestrator`. */
interface OrchestratorCommandOptions {
  templates?: string[];
  api: boolean;
}

/** `tasker orchestrator`: starts the orchestrator (and the API) and stops them on a signal. */
async function runOrchestrator(opts: OrchestratorCommandOptions, cmd: Command): Promise<void> {
  const globals = globalsOf(cmd);
  const config = configFromOptions(globals);
  const logger = loggerFor(config, globals, 'tasker-orchestrator');
  // Before the engine starts, so the first task created here is already traced (when enabled).
  const tracing = await setupTracing(config.common.telemetry, { logger });
  const orchestrator = createOrchestrator({ config, logger });
  let api: Awaited<ReturnType<typeof startApiIfEnabled>>;
  const starting = (async () => {
    for (const t of await loadTemplates(opts.templates)) await orchestrator.registerTemplate(t);
    await orchestrator.start();
    try {
      api = await startApiIfEnabled(config, orchestrator.pool, logger, orchestrator.id, opts.api, {
        breaker: orchestrator.breaker,
        channels: orchestrator.channels,
        taskMetrics: orchestrator.metrics,
        degradationSources: [orchestrator],
      });
    } catch (e) {
      await orchestrator.stop();
      throw e;
    }
    const dashboard = api ? dashboardNotice(api.url, api.server.dashboard) : undefined;
    if (dashboard) logger.info({ url: api?.url }, dashboard);
  })();
  // Installed before start-up ends: a signal while starting waits for it, then stops what started.
  onShutdownSignal(async () => {
    await starting.catch(() => {});
    // Stop taking requests before the pool they use goes away.
    await api?.server.close();
    await orchestrator.stop();
    await tracing.shutdown();
  }, logger);
  await starting;
  // Runs until a signal: no exit code is set here.
}

/** Options of `tasker worker`. */
interface WorkerCommandOptions {
  handlers: string;
  templates?: string[];
  namespace?: string[];
}

/** `tasker worker`: starts a worker (and its web server) and drains it on a signal. */
async function runWorker(opts: WorkerCommandOptions, cmd: Command): Promise<void> {
  const globals = globalsOf(cmd);
  const config = configFromOptions(globals);
  // User input is checked before anything starts, so a mistake is a usage error and not a half-started worker.
  const handlers = await loadHandlers(opts.handlers);
  const templates = await loadTemplates(opts.templates);
  if (templates.length === 0 && (opts.namespace ?? []).length === 0) {
    throw new UsageError(
      'the worker has no namespace to serve',
      'pass --namespace <ns> or --templates <path> (whose templates name their namespaces)',
    );
  }
  const logger = loggerFor(config, globals, 'tasker-worker');
  const tracing = await setupTracing(config.common.telemetry, { logger });
  const worker = createWorker({
    config,
    logger,
    handlers,
    templates,
    ...(opts.namespace ? { namespaces: opts.namespace } : {}),
  });
  let web: Awaited<ReturnType<typeof startWorkerWebServer>>;
  const starting = (async () => {
    await worker.start();
    try {
      web = await startWorkerWebServer({ worker, config, logger });
    } catch (e) {
      await worker.stop();
      throw e;
    }
  })();
  // Installed before start-up ends: a signal while starting waits for it, then drains what started.
  onShutdownSignal(
    async () => {
      await starting.catch(() => {});
      // The endpoint outlives the drain, so probes and scrapes see the shutdown through to its end.
      await worker.stop();
      await web?.server.close();
      // Last: exports the spans of the steps that finished during the drain.
      await tracing.shutdown();
    },
    logger,
    { deadlineMs: workerShutdownDeadlineMs(config) },
  );
  await starting;
}

/** Adds the engine process commands. */
export function registerEngineCommands(program: Command, runtime: CliRuntime): void {
  program
    .command('migrate')
    .description('apply database migrations (safe to run from many processes at once)')
    .action(action(runtime, (_opts: unknown, cmd: Command) => runMigrate(runtime, cmd)));

  program
    .command('orchestrator')
    .description(
      'run an orchestrator (and the REST API, when orchestration.api.enabled) until SIGINT/SIGTERM',
    )
    .option('--templates <path...>', `register these templates at start-up (${TEMPLATES_HELP})`)
    .option('--no-api', 'do not serve the REST API even if the configuration enables it')
    .action((opts: OrchestratorCommandOptions, cmd: Command) => runOrchestrator(opts, cmd));

  program
    .command('worker')
    .description(
      'run a worker until SIGINT/SIGTERM, with /metrics and /health on worker.web.port when worker.web.enabled',
    )
    .requiredOption('--handlers <file>', 'module exporting handlers made with defineHandler (.ts or .js)')
    .option(
      '--templates <path...>',
      `register these templates and serve their namespaces (${TEMPLATES_HELP})`,
    )
    .option('--namespace <ns...>', 'namespaces to serve (default: those of --templates)')
    .action((opts: WorkerCommandOptions, cmd: Command) => runWorker(opts, cmd));
}
