import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiServer, type ApiServer } from '../../src/api/index.js';
import { createOrchestrator, type Orchestrator } from '../../src/orchestration/orchestrator.js';
import { defineTemplate } from '../../src/templates/index.js';
import { defineHandler } from '../../src/worker/handler.js';
import { createWorker, type Worker } from '../../src/worker/worker.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { testConfig } from '../support/engine.js';

const template = defineTemplate({ namespace: 'pressure', name: 'one', version: '1.0.0' })
  .step('only', { handler: 'ok' })
  .build();

async function until(check: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('back-pressure at the edge', () => {
  let db: TestDatabase;
  let orchestrator: Orchestrator;
  let worker: Worker;
  let api: ApiServer;
  let base: string;
  const post = (): Promise<Response> =>
    fetch(`${base}/v1/tasks`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ namespace: 'pressure', name: 'one', context: {} }),
    });

  beforeAll(async () => {
    db = await createTestDatabase();
    const config = testConfig(db.url, {
      orchestration: { backpressure: { results_queue_critical_depth: 3, retry_after_seconds: 7 } },
      // Results queue for orchestration only on the four-transaction path.
      worker: { resolve_in_completion: false },
    });
    // The orchestrator is created but not started: step results pile up, as when orchestration falls behind.
    orchestrator = createOrchestrator({ config });
    await orchestrator.registerTemplate(template);
    worker = createWorker({
      config,
      templates: [template],
      handlers: [defineHandler('ok', () => ({ ok: 1 }))],
    });
    await worker.start();
    api = await createApiServer({ config, pool: db.pool });
    base = (await api.listen()).url;
  });
  afterAll(async () => {
    await api?.close();
    await worker?.stop();
    await orchestrator?.stop();
    await db?.drop();
  });

  it('refuses new tasks with 503 and Retry-After while results pile up, and accepts them again once cleared', async () => {
    for (let i = 0; i < 3; i++) expect((await post()).status).toBe(201);
    let refused: Response | undefined;
    await until(async () => {
      const res = await post();
      if (res.status === 503) refused = res;
      else await res.arrayBuffer();
      return refused !== undefined;
    }, 'a refusal');
    expect(refused!.headers.get('retry-after')).toBe('7');
    const body = (await refused!.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe('BACKPRESSURE');
    expect(body.error.message).toMatch(/step results are waiting for orchestration/);
    const health = (await (await fetch(`${base}/health`)).json()) as {
      status: string;
      backpressure: { overloaded: boolean; results_queue_depth: number };
    };
    expect(health.status).toBe('degraded');
    expect(health.backpressure.overloaded).toBe(true);
    expect(health.backpressure.results_queue_depth).toBeGreaterThanOrEqual(3);

    await orchestrator.start();
    await until(async () => {
      const res = await post();
      await res.arrayBuffer();
      return res.status === 201;
    }, 'acceptance after orchestration caught up');
  });
});
