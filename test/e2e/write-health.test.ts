/**
 * Health that tells the truth: a process whose engine writes keep failing (for reasons the circuit breaker does
 * not count: the database answers, with an error) reports itself degraded, with the reason, until a write
 * succeeds again. Faults are real: triggers in PostgreSQL refuse the writes while a row is in test_faults.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiServer } from '../../src/api/index.js';
import { QUEUES } from '../../src/contract/names.js';
import { createWorkerWebServer } from '../../src/api/worker-server.js';
import { defineTemplate } from '../../src/templates/index.js';
import { defineHandler } from '../../src/worker/handler.js';
import { createWorker } from '../../src/worker/worker.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { startEngine, testConfig, waitForTask, type Engine } from '../support/engine.js';
import { until } from '../support/wait.js';

const ns = 'write_health_e2e';
const single = defineTemplate({ namespace: ns, name: 'single', version: '1.0.0' })
  .step('only', { handler: 'health.ok' })
  .build();
const handlers = [defineHandler('health.ok', () => ({ ok: true }))];

describe('health reflects failing writes', () => {
  let db: TestDatabase;
  let engine: Engine;

  beforeAll(async () => {
    db = await createTestDatabase();
    engine = await startEngine(db, { templates: [single], handlers: [], startWorker: false });
    await db.pool.query(`
      CREATE TABLE public.test_faults (name text PRIMARY KEY);
      -- Worker completion writes insert a result message; refusing it fails the whole write.
      CREATE FUNCTION public.test_refuse_results() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW.queue_name = '${QUEUES.StepResults}' AND EXISTS (SELECT 1 FROM public.test_faults WHERE name = 'completions') THEN
          RAISE EXCEPTION 'disk full (injected fault)';
        END IF;
        RETURN NEW;
      END $$;
      CREATE TRIGGER test_refuse_results BEFORE INSERT ON tasker.queue_messages
        FOR EACH ROW EXECUTE FUNCTION public.test_refuse_results();
      -- Orchestrator result batches settle steps as complete; refusing that audit row fails the batch.
      CREATE FUNCTION public.test_refuse_settling() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW.to_state = 'complete' AND EXISTS (SELECT 1 FROM public.test_faults WHERE name = 'results') THEN
          RAISE EXCEPTION 'index corrupted (injected fault)';
        END IF;
        RETURN NEW;
      END $$;
      CREATE TRIGGER test_refuse_settling BEFORE INSERT ON tasker.workflow_step_transitions
        FOR EACH ROW EXECUTE FUNCTION public.test_refuse_settling();
    `);
  });
  afterAll(async () => {
    await engine?.stop();
    await db?.drop();
  });
  const faultOn = (name: string) => db.pool.query(`INSERT INTO public.test_faults VALUES ($1)`, [name]);
  const faultOff = (name: string) => db.pool.query(`DELETE FROM public.test_faults WHERE name = $1`, [name]);

  it('a worker whose completion writes keep failing is degraded, with the reason, until one succeeds', async () => {
    const config = testConfig(db.url, {
      common: { queues: { visibility_timeout_seconds: 60 } },
      worker: { resolve_in_completion: false },
    });
    const worker = createWorker({ config, namespaces: [ns], handlers });
    await worker.start();
    const web = await createWorkerWebServer({ worker, config });
    try {
      expect((await web.health()).degraded_reasons).toEqual([]);
      await faultOn('completions');
      const { taskUuid } = await engine.orchestrator.createTask({
        namespace: ns,
        name: 'single',
        context: {},
      });
      let report = await web.health();
      await until(async () => {
        report = await web.health();
        return report.degraded_reasons.length > 0;
      }, 'the worker to report itself degraded');
      expect(report.status).toBe('degraded');
      expect(report.degraded_reasons).toHaveLength(1);
      expect(report.degraded_reasons[0]).toMatch(/^the last \d+ step completion writes failed/);
      expect(report.degraded_reasons[0]).toContain('disk full (injected fault)');
      expect(report.circuit_breakers[0]!.state).toBe('closed'); // the breaker alone would have said nothing

      await faultOff('completions');
      expect((await waitForTask(db.pool, taskUuid)).state).toBe('complete');
      report = await web.health();
      // Only the write verdict is asserted: under load the machine itself can make a process degraded.
      expect(report.degraded_reasons).toEqual([]);
      expect(report.status).not.toBe('unhealthy');
    } finally {
      await faultOff('completions');
      await web.close();
      await worker.stop();
    }
  });

  it("an orchestrator whose result batches keep failing makes the API's /health degraded until one succeeds", async () => {
    const api = await createApiServer({
      config: engine.config,
      pool: db.pool,
      degradationSources: [engine.orchestrator],
    });
    const worker = createWorker({
      config: testConfig(db.url, { worker: { resolve_in_completion: false } }),
      namespaces: [ns],
      handlers,
    });
    await worker.start();
    const health = async (): Promise<{ status: string; degraded_reasons: string[] }> =>
      (await api.app.inject({ method: 'GET', url: '/health' })).json();
    try {
      expect((await health()).degraded_reasons).toEqual([]);
      await faultOn('results');
      const { taskUuid } = await engine.orchestrator.createTask({
        namespace: ns,
        name: 'single',
        context: {},
      });
      let report = await health();
      await until(async () => {
        report = await health();
        return report.degraded_reasons.length > 0;
      }, 'the API to report the orchestrator degraded');
      expect(report.status).toBe('degraded');
      expect(report.degraded_reasons).toHaveLength(1);
      expect(report.degraded_reasons[0]).toMatch(/^the last \d+ step result batches failed/);
      expect(report.degraded_reasons[0]).toContain('index corrupted (injected fault)');

      await faultOff('results');
      expect((await waitForTask(db.pool, taskUuid)).state).toBe('complete');
      report = await health();
      // Only the write verdict is asserted: under load the machine itself can make a process degraded.
      expect(report.degraded_reasons).toEqual([]);
      expect(report.status).not.toBe('unhealthy');
    } finally {
      await faultOff('results');
      await worker.stop();
      await api.close();
    }
  });
});
