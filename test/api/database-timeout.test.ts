import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiServer, type ApiServer } from '../../src/api/index.js';
import { TaskerClient, TaskerUnavailableError } from '../../src/client/index.js';
import { ErrorCode } from '../../src/errors.js';
import { createOrchestrator, type Orchestrator } from '../../src/orchestration/orchestrator.js';
import { registerTemplate } from '../../src/orchestration/template-registry.js';
import { defineTemplate, type StepDefinition, type TaskTemplate } from '../../src/templates/index.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { testConfig } from '../support/engine.js';

/**
 * A statement timeout seen through the API, set up as a process runs it: the API server shares the
 * orchestrator's pool (whose connections get `common.database.statement_timeout_ms`) and its database breaker.
 * Creating a 2,002-step task takes far longer than the 20 ms allowed here, so every create is canceled by the
 * server; the answer must name the timeout, and the breaker must stay closed.
 */
const ns = 'api_db_timeout';

/** start -> 2,000 parallel steps -> end. */
function wideTemplate(): TaskTemplate {
  const shape = defineTemplate({ namespace: ns, name: 'wide', version: '1.0.0' })
    .step('start', { handler: 'noop' })
    .step('middle', { handler: 'noop', dependsOn: ['start'] })
    .build();
  const [start, middle] = shape.steps as [StepDefinition, StepDefinition];
  const names = Array.from({ length: 2000 }, (_, i) => `w${String(i).padStart(4, '0')}`);
  return {
    ...shape,
    steps: [
      start,
      ...names.map((n) => ({ ...middle, name: n })),
      { ...middle, name: 'end', dependsOn: names },
    ],
  };
}

describe('a database statement timeout through the API', () => {
  let db: TestDatabase;
  let orchestrator: Orchestrator;
  let api: ApiServer;
  let base: string;

  beforeAll(async () => {
    db = await createTestDatabase();
    // Registered on the test's own pool, which has a generous statement timeout.
    await registerTemplate(db.pool, wideTemplate());
    const config = testConfig(db.url, {
      common: {
        database: { statement_timeout_ms: 20 },
        // Opens after 3 failures in the window if statement timeouts counted (they did before).
        circuit_breakers: {
          database: { volume_threshold: 3, error_threshold_percentage: 50, rolling_window_ms: 60_000 },
        },
      },
    });
    orchestrator = createOrchestrator({ config });
    api = await createApiServer({ config, pool: orchestrator.pool, breaker: orchestrator.breaker });
    base = (await api.listen()).url;
  });

  afterAll(async () => {
    await api?.close();
    await orchestrator?.stop();
    await db?.drop();
  });

  it('answers 503 DATABASE_TIMEOUT with Retry-After, never "database unavailable", and keeps the breaker closed', async () => {
    for (let i = 0; i < 6; i++) {
      const res = await fetch(`${base}/v1/tasks`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ namespace: ns, name: 'wide', context: { i } }),
      });
      const body = (await res.json()) as { error: { code: string; message: string } };
      expect(res.status, JSON.stringify(body)).toBe(503);
      expect(body.error.code).toBe('DATABASE_TIMEOUT');
      expect(body.error.message).toMatch(/statement timeout/);
      expect(body.error.message).not.toMatch(/unavailable/);
      expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
    }
    expect(orchestrator.breaker.state).toBe('closed');
    expect(orchestrator.breaker.stats()).toMatchObject({ timesOpened: 0, failures: 0 });
    // Nothing of the canceled creates was kept.
    const { rows } = await db.pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM tasker.tasks WHERE namespace = $1`,
      [ns],
    );
    expect(rows[0]!.n).toBe(0);
  });

  it('reaches a client as a TaskerUnavailableError whose code is DATABASE_TIMEOUT', async () => {
    // One attempt: a retry would only wait out Retry-After and be canceled again.
    const client = new TaskerClient({ baseUrl: base, retry: { maxAttempts: 1 } });
    const e = await client
      .createTask({ namespace: ns, name: 'wide', context: {}, idempotency_key: 'client-timeout' })
      .then(
        () => undefined,
        (err: unknown) => err,
      );
    expect(e).toBeInstanceOf(TaskerUnavailableError);
    expect((e as TaskerUnavailableError).code).toBe(ErrorCode.DatabaseTimeout);
    expect((e as TaskerUnavailableError).apiCode).toBe('DATABASE_TIMEOUT');
    expect((e as TaskerUnavailableError).status).toBe(503);
    expect(orchestrator.breaker.state).toBe('closed');
  });
});
