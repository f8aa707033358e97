import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiServer, type ApiServer } from '../../src/api/index.js';
import { ChannelMonitor } from '../../src/channels/index.js';
import { defineTemplate } from '../../src/templates/index.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { startEngine, type Engine } from '../support/engine.js';

// No worker runs: created tasks stay active and their step messages wait in the queue, so the figures are known.
const template = defineTemplate({ namespace: 'metrics_e2e', name: 'two', version: '1.0.0' })
  .step('x', { handler: 'h' })
  .step('y', { handler: 'h' })
  .build();

describe('engine metrics on /metrics', () => {
  let db: TestDatabase;
  let engine: Engine;
  let api: ApiServer;
  let base: string;

  beforeAll(async () => {
    db = await createTestDatabase();
    engine = await startEngine(db, { templates: [template], handlers: [], startWorker: false });
    const monitor = new ChannelMonitor();
    for (const c of engine.orchestrator.channels) monitor.register(c);
    api = await createApiServer({
      config: engine.config,
      pool: engine.orchestrator.pool,
      breaker: engine.orchestrator.breaker,
      channelMonitor: monitor,
    });
    base = (await api.listen()).url;
  });
  afterAll(async () => {
    await api?.close();
    await engine?.stop();
    await db?.drop();
  });

  it('reports queues, active tasks, DLQ, channels, breaker and pool acquire latency', async () => {
    for (let i = 0; i < 3; i++) {
      await engine.orchestrator.createTask({ namespace: 'metrics_e2e', name: 'two', context: { i } });
    }
    const text = await (await fetch(`${base}/metrics`)).text();
    const value = (line: string): number => {
      const found = text.split('\n').find((l) => l.startsWith(line));
      if (!found) throw new Error(`metric line '${line}' not found`);
      return Number(found.slice(line.length).trim());
    };
    expect(value('tasker_queue_messages{queue="worker_metrics_e2e_queue",visibility="all"}')).toBe(6);
    expect(value('tasker_queue_messages{queue="worker_metrics_e2e_queue",visibility="visible"}')).toBe(6);
    expect(
      value('tasker_queue_oldest_message_age_seconds{queue="worker_metrics_e2e_queue"}'),
    ).toBeGreaterThanOrEqual(0);
    expect(value('tasker_tasks_active{state="steps_in_process"}')).toBe(3);
    expect(value('tasker_dlq_pending_entries')).toBe(0);
    expect(value(`tasker_circuit_breaker_state{breaker="${engine.orchestrator.breaker.name}"}`)).toBe(0);
    expect(value('tasker_channel_saturation{channel="orchestration.result_wakeups"}')).toBeGreaterThanOrEqual(
      0,
    );
    expect(value('tasker_db_pool_acquire_seconds{quantile="0.99"}')).toBeGreaterThan(0);
    expect(text).toContain('# HELP tasker_tasks_active Unfinished tasks by state.');
  });
});
