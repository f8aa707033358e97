import { createApiServer, type ApiServer } from '../../src/api/index.js';
import type { DeepPartial, TaskerConfig } from '../../src/config/index.js';
import type { TaskTemplate } from '../../src/templates/types.js';
import type { HandlerDefinition } from '../../src/worker/handler.js';
import type { TestDatabase } from '../support/db.js';
import { startEngine, type Engine } from '../support/engine.js';

/** A real API server on a free port, with an orchestrator and a worker, all on one test database. */
export interface Stack {
  engine: Engine;
  api: ApiServer;
  /** Base URL of the listening API. */
  url: string;
  stop(): Promise<void>;
}

export async function startStack(
  db: TestDatabase,
  options: {
    templates: TaskTemplate[];
    handlers: HandlerDefinition[];
    overrides?: DeepPartial<TaskerConfig>;
    startWorker?: boolean;
  },
): Promise<Stack> {
  const engine = await startEngine(db, options);
  // Short stream intervals so a lost notification never makes a test wait for the default safety poll.
  const api = await createApiServer({
    config: engine.config,
    pool: db.pool,
    eventStreams: { pollIntervalMs: 200, keepAliveMs: 1000 },
  });
  const { url } = await api.listen();
  return {
    engine,
    api,
    url,
    async stop() {
      await api.close();
      await engine.stop();
    },
  };
}
