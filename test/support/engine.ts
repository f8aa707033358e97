import { loadConfig, type DeepPartial, type TaskerConfig } from '../../src/config/index.js';
import { createOrchestrator, type Orchestrator } from '../../src/orchestration/orchestrator.js';
import { FINISHED_TASK_STATES, getTask, type TaskView } from '../../src/orchestration/task-queries.js';
import type { TaskTemplate } from '../../src/templates/types.js';
import type { HandlerDefinition } from '../../src/worker/handler.js';
import { createWorker, type StepFinishedEvent, type Worker } from '../../src/worker/worker.js';
import type { TestDatabase } from './db.js';
import type pg from 'pg';

/** The test environment's configuration pointed at a test database. */
export function testConfig(url: string, overrides: DeepPartial<TaskerConfig> = {}): TaskerConfig {
  return loadConfig({ environment: 'test', env: { DATABASE_URL: url }, overrides });
}

export interface Engine {
  config: TaskerConfig;
  orchestrator: Orchestrator;
  worker: Worker;
  finished: StepFinishedEvent[];
  stop(): Promise<void>;
}

/** An orchestrator and a worker in this process, on their own pools, against the test database. */
export async function startEngine(
  db: TestDatabase,
  options: {
    templates: TaskTemplate[];
    handlers: HandlerDefinition[];
    overrides?: DeepPartial<TaskerConfig>;
    startWorker?: boolean;
  },
): Promise<Engine> {
  const config = testConfig(db.url, options.overrides);
  const orchestrator = createOrchestrator({ config });
  for (const t of options.templates) await orchestrator.registerTemplate(t);
  const finished: StepFinishedEvent[] = [];
  const worker = createWorker({
    config,
    templates: options.templates,
    handlers: options.handlers,
    onStepFinished: (e) => finished.push(e),
  });
  await orchestrator.start();
  if (options.startWorker !== false) await worker.start();
  return {
    config,
    orchestrator,
    worker,
    finished,
    async stop() {
      await worker.stop();
      await orchestrator.stop();
    },
  };
}

/** Polls until the task is finished (complete, error, cancelled, resolved_manually) or the time limit passes. */
export async function waitForTask(pool: pg.Pool, taskUuid: string, timeoutMs = 30_000): Promise<TaskView> {
  const deadline = Date.now() + timeoutMs;
  let last: TaskView | undefined;
  while (Date.now() < deadline) {
    last = await getTask(pool, taskUuid);
    if (last && FINISHED_TASK_STATES.has(last.state)) return last;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(
    `task ${taskUuid} did not finish within ${timeoutMs} ms; last state ${last?.state ?? 'missing'}: ` +
      JSON.stringify(last?.steps.map((s) => `${s.name}:${s.state}`)),
  );
}
