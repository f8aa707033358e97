import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { createPool } from '../../db/pool.js';
import { migrate } from '../../db/migrate.js';
import { createOrchestrator } from '../../orchestration/orchestrator.js';
import type { CreatedTaskHandle } from '../../results/handle.js';
import type { TaskResults } from '../../results/outcome.js';
import type { TaskTemplate } from '../../templates/types.js';
import { startEmbeddedPostgres, type EmbeddedServer } from '../../testing/embedded-postgres.js';
import { createWorker, type StepFinishedEvent } from '../../worker/worker.js';
import { setupTracing } from '../../observability/tracing.js';
import {
  configFromOptions,
  EXAMPLES_DIR,
  loadHandlers,
  loadTemplates,
  loggerFor,
  type GlobalOptions,
} from '../common.js';
import { ErrorCode, TaskCancelledError, TaskerError, TaskFailedError } from '../../errors.js';
import { importUserModule } from '../../runtime/optional.js';
import { dashboardNotice } from '../dashboard-notice.js';
import { startApiIfEnabled } from './engine.js';

export interface DevOptions extends GlobalOptions {
  keepRunning?: boolean;
  examples?: string;
  /** False with `--no-api`: do not serve the REST API. */
  api?: boolean;
}

interface ExampleTask {
  namespace: string;
  name: string;
  context: Record<string, unknown>;
}

function formatStep(e: StepFinishedEvent, templateOf: (task: string) => string): string {
  const status = e.success
    ? 'ok'
    : `failed (${e.error?.code ?? e.error?.name ?? 'error'}: ${e.error?.message ?? ''})`;
  return `  step  ${templateOf(e.taskUuid).padEnd(22)} ${e.stepName.padEnd(24)} attempt ${e.attempt}  ${e.durationMs
    .toFixed(2)
    .padStart(8)} ms  ${status}`;
}

/** The results of a finished task's leaf steps (by its template): what the workflow produced. */
function finalResult(results: TaskResults, template: TaskTemplate | undefined): Record<string, unknown> {
  const steps = template?.steps ?? [];
  const parents = new Set(steps.flatMap((s) => s.dependsOn));
  const leaves = steps.filter((s) => !parents.has(s.name) && s.name in results);
  return Object.fromEntries(leaves.map((s) => [s.name, results[s.name]]));
}

/** How an example task ended, as one line of output; true when it completed. */
async function reportTask(
  name: string,
  task: CreatedTaskHandle,
  template: TaskTemplate | undefined,
  signal: AbortSignal,
): Promise<boolean> {
  try {
    const results = await task.result({ signal });
    console.log(`task  ${name.padEnd(22)} complete  ${JSON.stringify(finalResult(results, template))}`);
    return true;
  } catch (e) {
    if (e instanceof TaskCancelledError) {
      console.log(`task  ${name.padEnd(22)} cancelled`);
      return false;
    }
    // Interrupted (SIGINT/SIGTERM): the run is being stopped; nothing to report for this task.
    if (signal.aborted) return false;
    if (!(e instanceof TaskFailedError)) throw e;
    const step = e.failedSteps[0];
    console.log(`task  ${name.padEnd(22)} error  ${step?.name ?? ''}: ${step?.error?.message ?? e.message}`);
    return false;
  }
}

/** An examples module: the compiled `.js` when there is one (an installed package), else the `.ts` source. */
function exampleModule(dir: string, base: string): string {
  const js = join(dir, `${base}.js`);
  return existsSync(js) ? js : join(dir, `${base}.ts`);
}

/**
 * What `tasker dev` has started, stopped in reverse order exactly once, whether it finishes, fails or is
 * interrupted. Everything is registered the moment it exists, so a failure or a signal at any point stops the
 * embedded PostgreSQL and removes its data directory.
 */
class DevResources {
  readonly #stops: Array<() => Promise<void>> = [];
  #stopping: Promise<void> | undefined;
  readonly abort = new AbortController();
  logger: Logger | undefined;

  add(stop: () => Promise<void>): void {
    this.#stops.push(stop);
  }

  /** Throws when a signal asked to stop, so start-up goes no further. */
  check(): void {
    if (this.abort.signal.aborted) {
      throw new TaskerError(ErrorCode.ShuttingDown, 'tasker dev was interrupted', {
        cause: this.abort.signal.reason,
      });
    }
  }

  stopAll(): Promise<void> {
    this.#stopping ??= (async () => {
      for (const stop of this.#stops.reverse()) {
        try {
          await stop();
        } catch (e) {
          this.logger?.error({ err: e }, 'tasker dev: stopping failed');
        }
      }
    })();
    return this.#stopping;
  }
}

/** Exit codes of a run interrupted by a signal before it finished (128 + the signal's number). */
const SIGNAL_EXIT: Record<string, number> = { SIGINT: 130, SIGTERM: 143 };

/**
 * `tasker dev`: everything in one process. Starts an embedded PostgreSQL unless DATABASE_URL (or
 * --database-url) is set, migrates, runs an orchestrator and a worker with the example workflows (or those of
 * `--examples DIR`), submits one task of each, prints every step as it completes and each task's result, and
 * exits 0 when all complete. Whatever happens after the embedded PostgreSQL starts (a failure, SIGINT or
 * SIGTERM at any moment) stops it and removes its data directory.
 */
export async function runDev(opts: DevOptions): Promise<number> {
  const res = new DevResources();
  let ready = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (res.abort.signal.aborted) {
      res.logger?.warn({ signal }, 'second signal: exiting now');
      process.exit(SIGNAL_EXIT[signal] ?? 1);
    }
    res.logger?.info({ signal }, 'shutting down');
    const code = ready ? 0 : (SIGNAL_EXIT[signal] ?? 1);
    res.abort.abort(new Error(`received ${signal}`));
    // Start-up in progress cleans up after itself when it notices; then everything registered is stopped.
    void run
      .catch(() => 0)
      .then(() => res.stopAll())
      .finally(() => process.exit(code));
  };
  // Signals are handled from the event loop, so none can arrive between these two statements.
  const run = runExamples(opts, res, () => (ready = true));
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const code = await run;
    if (opts.keepRunning && code === -1) return new Promise<number>(() => {});
    await res.stopAll();
    return code;
  } catch (e) {
    await res.stopAll();
    // Interrupted: the signal handler exits with the signal's code once everything is stopped.
    if (res.abort.signal.aborted) return new Promise<number>(() => {});
    throw e;
  } finally {
    if (!opts.keepRunning) {
      process.removeListener('SIGINT', onSignal);
      process.removeListener('SIGTERM', onSignal);
    }
  }
}

/** Starts everything, runs the example tasks; resolves with the exit code, or -1 when it keeps running. */
async function runExamples(opts: DevOptions, res: DevResources, onReady: () => void): Promise<number> {
  let server: EmbeddedServer | undefined;
  const databaseUrl = opts.databaseUrl ?? process.env.DATABASE_URL;
  const extraEnv: Record<string, string> = {};
  if (!databaseUrl) {
    console.log('starting embedded PostgreSQL ...');
    server = await startEmbeddedPostgres({ signal: res.abort.signal });
    res.add(() => server!.stop());
    extraEnv.DATABASE_URL = server.url;
  }
  const config = configFromOptions({ env: 'development', ...opts }, extraEnv);
  const logger = loggerFor(config, { logLevel: 'warn', ...opts }, 'tasker-dev');
  res.logger = logger;
  const examplesDir = opts.examples ?? EXAMPLES_DIR;
  const tracing = await setupTracing(config.common.telemetry, { logger });
  res.add(() => tracing.shutdown());

  const pool = createPool({
    url: config.common.database.url,
    maxConnections: 4,
    idleTimeoutMs: 10_000,
    acquireTimeoutMs: 10_000,
    statementTimeoutMs: 0,
    applicationName: 'tasker-dev',
  });
  res.add(() => pool.end());
  res.check();
  const migrated = await migrate(pool, { logger });
  console.log(
    `database ready (${migrated.applied.length} migrations applied, ${migrated.alreadyApplied} already)`,
  );

  res.check();
  const templates = await loadTemplates(join(examplesDir, 'templates'));
  const handlers = await loadHandlers(exampleModule(examplesDir, 'handlers'));
  const { exampleTasks } = (await importUserModule(exampleModule(examplesDir, 'dev-tasks'))) as {
    exampleTasks: ExampleTask[];
  };

  const templateOfTask = new Map<string, string>();
  res.check();
  const orchestrator = createOrchestrator({ config, logger });
  const worker = createWorker({
    config,
    logger,
    templates,
    handlers,
    // One set of task counters for the process, whichever of the two finalizes a task.
    taskMetrics: orchestrator.metrics,
    onStepFinished: (e) => console.log(formatStep(e, (t) => templateOfTask.get(t) ?? t.slice(0, 8))),
  });
  res.add(() => orchestrator.stop());
  await orchestrator.start();
  res.add(() => worker.stop());
  await worker.start();
  res.check();
  const api = await startApi(config, logger, orchestrator, worker, opts.api !== false);
  if (api) res.add(() => api.server.close());
  console.log(
    `orchestrator ${orchestrator.id} and worker ${worker.id} running; ${templates.length} templates`,
  );
  const failures = await runTasks(exampleTasks, orchestrator, templates, templateOfTask, res);
  console.log(failures === 0 ? 'all example tasks complete' : `${failures} task(s) did not complete`);

  if (!opts.keepRunning) return failures === 0 ? 0 : 1;
  // Ready first: whoever reads the line below may signal at once, and that is then a clean stop.
  onReady();
  console.log(
    api
      ? `running; create tasks with \`tasker task create --url ${api.url} ...\` or createTask(); Ctrl-C to stop`
      : 'running; create tasks with createTask() against this database; Ctrl-C to stop',
  );
  if (server) console.log(`DATABASE_URL=${server.url}`);
  return -1;
}

type Orch = ReturnType<typeof createOrchestrator>;

async function startApi(
  config: ReturnType<typeof configFromOptions>,
  logger: Logger,
  orchestrator: Orch,
  worker: ReturnType<typeof createWorker>,
  enabled: boolean,
): Promise<Awaited<ReturnType<typeof startApiIfEnabled>>> {
  try {
    const api = await startApiIfEnabled(config, orchestrator.pool, logger, orchestrator.id, enabled, {
      breaker: orchestrator.breaker,
      channels: [...orchestrator.channels, ...worker.channels],
      taskMetrics: orchestrator.metrics,
      metricSets: [worker.metrics],
      degradationSources: [orchestrator, worker],
    });
    if (api) {
      console.log(`API listening on ${api.url}  (try: tasker task list --url ${api.url})`);
      const dashboard = dashboardNotice(api.url, api.server.dashboard);
      if (dashboard) console.log(dashboard);
    }
    return api;
  } catch (e) {
    // The examples do not need the API: a taken port should not stop a demo.
    console.log(
      `API not started: ${e instanceof Error ? e.message : String(e)} (set TASKER_API_PORT or use --no-api)`,
    );
    return undefined;
  }
}

/**
 * Creates one task of each example and awaits them through task handles (one notification per finished task, no
 * polling); returns how many did not complete. A signal aborts the wait.
 */
async function runTasks(
  exampleTasks: ExampleTask[],
  orchestrator: Orch,
  templates: readonly TaskTemplate[],
  templateOfTask: Map<string, string>,
  res: DevResources,
): Promise<number> {
  const waits: Promise<boolean>[] = [];
  let failure: unknown;
  for (const t of exampleTasks) {
    res.check();
    const created = await orchestrator.createTask(t);
    templateOfTask.set(created.taskUuid, t.name);
    console.log(`task  ${t.name.padEnd(22)} created ${created.taskUuid}`);
    const template = templates.find((x) => x.namespace === t.namespace && x.name === t.name);
    // Handled at once, so that a wait failing while later tasks are still being created is never unhandled.
    waits.push(
      reportTask(t.name, created, template, res.abort.signal).catch((e: unknown) => {
        failure ??= e;
        return false;
      }),
    );
  }
  const failures = (await Promise.all(waits)).filter((ok) => !ok).length;
  res.check();
  if (failure !== undefined) {
    throw failure instanceof Error
      ? failure
      : new Error('waiting for an example task failed', { cause: failure });
  }
  return failures;
}
