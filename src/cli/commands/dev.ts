import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createPool } from '../../db/pool.js';
import { migrate } from '../../db/migrate.js';
import { createOrchestrator } from '../../orchestration/orchestrator.js';
import { FINISHED_TASK_STATES, getTask, type TaskView } from '../../orchestration/task-queries.js';
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

/** The results of a finished task's leaf steps: what the workflow produced. */
function finalResult(task: TaskView): Record<string, unknown> {
  const parents = new Set(task.steps.flatMap((s) => s.dependsOn));
  return Object.fromEntries(task.steps.filter((s) => !parents.has(s.name)).map((s) => [s.name, s.result]));
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

  const pending = new Set<string>();
  for (const t of exampleTasks) {
    const created = await orchestrator.createTask(t);
    templateOfTask.set(created.taskUuid, t.name);
    pending.add(created.taskUuid);
    console.log(`task  ${t.name.padEnd(22)} created ${created.taskUuid}`);
  }

  let failures = 0;
  while (pending.size > 0) {
    await new Promise((r) => setTimeout(r, 20));
    for (const id of [...pending]) {
      const task = await getTask(pool, id);
      if (!task || !FINISHED_TASK_STATES.has(task.state)) continue;
      pending.delete(id);
      if (task.state !== 'complete') failures += 1;
      const detail =
        task.state === 'complete'
          ? JSON.stringify(finalResult(task))
          : `${task.error?.stepName ?? ''}: ${task.error?.error?.message ?? ''}`;
      console.log(`task  ${task.name.padEnd(22)} ${task.state}  ${detail}`);
    }
  }
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
