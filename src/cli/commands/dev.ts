import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createPool } from '../../db/pool.js';
import { migrate } from '../../db/migrate.js';
import { createOrchestrator } from '../../orchestration/orchestrator.js';
import { TaskCancelledError, TaskFailedError } from '../../errors.js';
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
  onShutdownSignal,
  type GlobalOptions,
} from '../common.js';
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
): Promise<boolean> {
  try {
    const results = await task.result();
    console.log(`task  ${name.padEnd(22)} complete  ${JSON.stringify(finalResult(results, template))}`);
    return true;
  } catch (e) {
    if (e instanceof TaskCancelledError) {
      console.log(`task  ${name.padEnd(22)} cancelled`);
      return false;
    }
    if (!(e instanceof TaskFailedError)) throw e;
    const step = e.failedSteps[0];
    console.log(`task  ${name.padEnd(22)} error  ${step?.name ?? ''}: ${step?.error?.message ?? e.message}`);
    return false;
  }
}

/**
 * `tasker dev`: everything in one process. Starts an embedded PostgreSQL unless DATABASE_URL (or
 * --database-url) is set, migrates, runs an orchestrator and a worker with the example workflows, submits one
 * task of each, prints every step as it completes and each task's result, and exits 0 when all complete.
 */
export async function runDev(opts: DevOptions): Promise<number> {
  let server: EmbeddedServer | undefined;
  const databaseUrl = opts.databaseUrl ?? process.env.DATABASE_URL;
  const extraEnv: Record<string, string> = {};
  if (!databaseUrl) {
    console.log('starting embedded PostgreSQL ...');
    server = await startEmbeddedPostgres();
    extraEnv.DATABASE_URL = server.url;
  }
  const config = configFromOptions({ env: 'development', ...opts }, extraEnv);
  const logger = loggerFor(config, { logLevel: 'warn', ...opts }, 'tasker-dev');
  const examplesDir = opts.examples ?? EXAMPLES_DIR;
  const tracing = await setupTracing(config.common.telemetry, { logger });

  const pool = createPool({
    url: config.common.database.url,
    maxConnections: 4,
    idleTimeoutMs: 10_000,
    acquireTimeoutMs: 10_000,
    statementTimeoutMs: 0,
    applicationName: 'tasker-dev',
  });
  const migrated = await migrate(pool, { logger });
  console.log(
    `database ready (${migrated.applied.length} migrations applied, ${migrated.alreadyApplied} already)`,
  );

  const templates = await loadTemplates(join(examplesDir, 'templates'));
  const handlers = await loadHandlers(join(examplesDir, 'handlers.ts'));
  const { exampleTasks } = (await import(pathToFileURL(join(examplesDir, 'dev-tasks.ts')).href)) as {
    exampleTasks: ExampleTask[];
  };

  const templateOfTask = new Map<string, string>();
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
  await orchestrator.start();
  await worker.start();
  let api: Awaited<ReturnType<typeof startApiIfEnabled>>;
  try {
    api = await startApiIfEnabled(config, orchestrator.pool, logger, orchestrator.id, opts.api !== false, {
      breaker: orchestrator.breaker,
      channels: [...orchestrator.channels, ...worker.channels],
      taskMetrics: orchestrator.metrics,
      metricSets: [worker.metrics],
      degradationSources: [orchestrator, worker],
    });
    if (api) console.log(`API listening on ${api.url}  (try: tasker task list --url ${api.url})`);
  } catch (e) {
    // The examples do not need the API: a taken port should not stop a demo.
    console.log(
      `API not started: ${e instanceof Error ? e.message : String(e)} (set TASKER_API_PORT or use --no-api)`,
    );
  }
  const shutdown = async (): Promise<void> => {
    await api?.server.close();
    await worker.stop();
    await orchestrator.stop();
    await tracing.shutdown();
    await pool.end();
    await server?.stop();
  };
  console.log(
    `orchestrator ${orchestrator.id} and worker ${worker.id} running; ${templates.length} templates`,
  );

  // Awaited through task handles: one notification per finished task, no polling.
  const waits: Promise<boolean>[] = [];
  for (const t of exampleTasks) {
    const created = await orchestrator.createTask(t);
    templateOfTask.set(created.taskUuid, t.name);
    console.log(`task  ${t.name.padEnd(22)} created ${created.taskUuid}`);
    const template = templates.find((x) => x.namespace === t.namespace && x.name === t.name);
    waits.push(reportTask(t.name, created, template));
  }
  const failures = (await Promise.all(waits)).filter((ok) => !ok).length;
  console.log(failures === 0 ? 'all example tasks complete' : `${failures} task(s) did not complete`);

  if (opts.keepRunning) {
    // Handlers first: whoever reads the line below may signal at once.
    onShutdownSignal(shutdown, logger);
    console.log(
      api
        ? `running; create tasks with \`tasker task create --url ${api.url} ...\` or createTask(); Ctrl-C to stop`
        : 'running; create tasks with createTask() against this database; Ctrl-C to stop',
    );
    if (server) console.log(`DATABASE_URL=${server.url}`);
    return new Promise<number>(() => {});
  }
  await shutdown();
  return failures === 0 ? 0 : 1;
}
