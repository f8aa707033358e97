/**
 * Tasker as `tasker dev` runs it: an orchestrator and a worker in this process, default configuration (10
 * concurrent handlers), tasks created with `orchestrator.createTask`. A run is finished when its task's
 * finalizing transaction commits; Tasker announces that on `tasker_task_finished`, which the benchmark hears as an
 * application would: `orchestrator.onTaskFinished`, on the process's one shared LISTEN connection.
 */
import { loadConfig, type DeepPartial, type TaskerConfig } from '../../src/config/index.js';
import { createOrchestrator } from '../../src/orchestration/orchestrator.js';
import { defineTemplate, type TaskTemplate } from '../../src/templates/index.js';
import { defineHandler } from '../../src/worker/handler.js';
import { createWorker } from '../../src/worker/worker.js';
import type { Shape } from './shapes.js';
import type { PeerSystem } from './system.js';
import { NotificationWaiter, RunWaiter } from './waiter.js';

const NS = 'peers';

function mergeOverrides(
  base: DeepPartial<TaskerConfig>,
  extra: string | undefined,
): DeepPartial<TaskerConfig> {
  if (!extra) return base;
  const more = JSON.parse(extra) as DeepPartial<TaskerConfig>;
  return { ...base, ...more, worker: { ...base.worker, ...more.worker } };
}

/** The Tasker template of a shape: one `noop` step per node. */
export function templateOf(shape: Shape): TaskTemplate {
  // The DSL types step names as they are added; a shape's names are only known at run time.
  interface LooseBuilder {
    step(name: string, options: { handler: string; dependsOn?: string[] }): LooseBuilder;
    build(): TaskTemplate;
  }
  let b = defineTemplate({ namespace: NS, name: shape.name, version: '1.0.0' }) as unknown as LooseBuilder;
  for (const s of shape.steps) {
    b = b.step(s.name, { handler: 'noop', ...(s.parents.length > 0 ? { dependsOn: s.parents } : {}) });
  }
  return b.build();
}

/** Waits for tasks by uuid as `tasker_task_finished` announces them (payload `uuid:state,...`). */
export function taskFinishedWaiter(url: string): NotificationWaiter {
  return new NotificationWaiter(url, 'tasker_task_finished', (payload) =>
    payload.split(',').map((item) => item.split(':')[0]!),
  );
}

export async function startTasker(
  url: string,
  shapes: readonly Shape[],
  label: string,
  overrides: DeepPartial<TaskerConfig> = {},
): Promise<PeerSystem> {
  const config = loadConfig({
    environment: 'production',
    env: { DATABASE_URL: url },
    // PEERS_TASKER_CONFIG (JSON, merged over the system's own overrides) is for trying settings by hand.
    overrides: mergeOverrides(
      { ...overrides, common: { logging: { level: 'silent' } } },
      process.env.PEERS_TASKER_CONFIG,
    ),
  });
  const templates = shapes.map(templateOf);
  const orchestrator = createOrchestrator({ config });
  for (const t of templates) await orchestrator.registerTemplate(t);
  const worker = createWorker({
    config,
    templates,
    handlers: [defineHandler('noop', () => ({ ok: true }))],
  });
  // Heard the way an application hears it: on the process's one shared LISTEN connection.
  const finished = new RunWaiter();
  const stopHearing = await orchestrator.onTaskFinished((e) => finished.finished(e.taskUuid));
  await orchestrator.start();
  await worker.start();
  const submit = async (shape: Shape, i: number): Promise<string> =>
    (await orchestrator.createTask({ namespace: NS, name: shape.name, context: { i } })).taskUuid;
  return {
    label,
    run: async (shape, i) => finished.wait(await submit(shape, i)),
    runMany: async (shape, count, offset) => {
      const ids = await Promise.all(Array.from({ length: count }, (_, i) => submit(shape, offset + i)));
      await Promise.all(ids.map((id) => finished.wait(id)));
    },
    stop: async () => {
      await worker.stop();
      stopHearing();
      await orchestrator.stop();
    },
  };
}
