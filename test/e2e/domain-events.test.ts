import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DomainEventSystem } from '../../src/events/event-system.js';
import { DurableEventConsumer } from '../../src/events/durable-consumer.js';
import { defineEventPublisher } from '../../src/events/publisher.js';
import type { DomainEvent, DomainEventMessage } from '../../src/events/types.js';
import { createOrchestrator, type Orchestrator } from '../../src/orchestration/orchestrator.js';
import { defineTemplate } from '../../src/templates/index.js';
import { defineHandler } from '../../src/worker/handler.js';
import { createWorker, type Worker } from '../../src/worker/worker.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { testConfig, waitForTask } from '../support/engine.js';

const ns = 'events_e2e';

const order = defineTemplate({ namespace: ns, name: 'order', version: '1.0.0' })
  .step('validate', { handler: 'ev.ok' })
  .step('charge', {
    handler: 'ev.flaky',
    dependsOn: ['validate'],
    retry: { maxAttempts: 3, backoffBaseMs: 10, maxBackoffMs: 20 },
    publishes: [
      { name: 'payment.processed', condition: 'success', delivery: 'durable', publisher: 'public_payment' },
      { name: 'payment.attempted', condition: 'always', delivery: 'fast' },
      { name: 'payment.retrying', condition: 'retryable_failure', delivery: 'broadcast' },
      { name: 'payment.declined', condition: 'permanent_failure', delivery: 'broadcast' },
    ],
  })
  .step('ship', {
    handler: 'ev.ok',
    dependsOn: ['charge'],
    publishes: [{ name: 'shipment.sent', delivery: 'broadcast' }],
  })
  .build();

const declined = defineTemplate({ namespace: ns, name: 'declined', version: '1.0.0' })
  .step('charge', {
    handler: 'ev.decline',
    publishes: [
      { name: 'payment.processed', condition: 'success', delivery: 'durable' },
      { name: 'payment.declined', condition: 'permanent_failure', delivery: 'durable' },
    ],
  })
  .build();

const badPublisher = defineTemplate({ namespace: ns, name: 'bad_publisher', version: '1.0.0' })
  .step('only', {
    handler: 'ev.ok',
    publishes: [
      { name: 'thing.done', delivery: 'broadcast', publisher: 'not_registered' },
      { name: 'thing.also', delivery: 'broadcast' },
    ],
  })
  .build();

// A step whose first attempt stalls past its lease: the second attempt replaces it, and the stalled attempt's
// late outcome is refused. Only the attempt whose result orchestration got may publish.
const stalled = defineTemplate({ namespace: ns, name: 'stalled', version: '1.0.0' })
  .step('slow', {
    handler: 'ev.stall_first',
    retry: { maxAttempts: 3, backoffBaseMs: 10, maxBackoffMs: 20 },
    publishes: [{ name: 'slow.finished', condition: 'always', delivery: 'broadcast' }],
  })
  .build();

let secondAttemptDone!: () => void;
const secondAttempt = new Promise<void>((r) => (secondAttemptDone = r));
const failedOnce = new Set<string>();

const handlers = [
  defineHandler('ev.ok', (ctx) => ({ step: ctx.stepName })),
  defineHandler('ev.flaky', (ctx) => {
    if (!failedOnce.has(ctx.taskUuid)) {
      failedOnce.add(ctx.taskUuid);
      throw new Error('gateway busy');
    }
    return { amount: (ctx.context as { amount: number }).amount, card: '4242' };
  }),
  defineHandler('ev.decline', () => {
    throw new Error('card declined');
  }),
  defineHandler('ev.stall_first', async (ctx) => {
    if (ctx.attempt === 1) {
      await secondAttempt; // outlives its lease; by the time it returns, attempt 2 owns the step
      return { attempt: 1 };
    }
    secondAttemptDone();
    return { attempt: ctx.attempt };
  }),
];

const publicPayment = defineEventPublisher('public_payment', ({ result, context }) => ({
  amount: (result as { amount: number }).amount,
  customer: (context as { customer: string }).customer,
}));

async function durableEvents(db: TestDatabase): Promise<DomainEventMessage[]> {
  const res = await db.pool.query<{ message: DomainEventMessage }>(
    `SELECT message FROM tasker.queue_messages WHERE queue_name = $1 ORDER BY msg_id`,
    [`domain_events_${ns}`],
  );
  return res.rows.map((r) => r.message);
}

describe('domain events', () => {
  let db: TestDatabase;
  let orchestrator: Orchestrator;
  let worker: Worker;
  const fast: DomainEvent[] = [];
  let unsubscribe: () => void;

  beforeAll(async () => {
    db = await createTestDatabase();
    const config = testConfig(db.url);
    orchestrator = createOrchestrator({ config });
    for (const t of [order, declined, badPublisher]) await orchestrator.registerTemplate(t);
    await orchestrator.start();
    worker = createWorker({
      config,
      templates: [order, declined, badPublisher],
      handlers,
      eventPublishers: [publicPayment],
    });
    unsubscribe = worker.events.subscribe('**', (e) => {
      fast.push(e);
    });
    await worker.start();
  });

  afterAll(async () => {
    unsubscribe?.();
    await worker?.stop();
    await orchestrator?.stop();
    await db?.drop();
  });

  it('publishes declared events per outcome: durable with the result, fast to subscribers, broadcast both', async () => {
    const created = await orchestrator.createTask({
      namespace: ns,
      name: 'order',
      context: { amount: 42, customer: 'ada' },
    });
    const task = await waitForTask(db.pool, created.taskUuid);
    expect(task.state).toBe('complete');
    await worker.events.drain(5000);

    const durable = (await durableEvents(db)).filter((m) => m.task_uuid === created.taskUuid);
    // Attempt 1 failed (retryable), attempt 2 succeeded; ship succeeded once.
    expect(durable.map((m) => [m.name, m.attempt, m.outcome])).toEqual([
      ['payment.retrying', 1, 'retryable_failure'],
      ['payment.processed', 2, 'success'],
      ['shipment.sent', 1, 'success'],
    ]);
    const processed = durable[1]!;
    expect(processed.payload).toEqual({ amount: 42, customer: 'ada' }); // shaped by the publisher
    expect(processed).toMatchObject({ namespace: ns, template_name: 'order', step_name: 'charge' });
    const retrying = durable[0]!;
    expect(retrying.payload).toMatchObject({ error: { message: 'gateway busy', retryable: true } });

    const mine = fast.filter((e) => e.taskUuid === created.taskUuid);
    expect(mine.map((e) => [e.name, e.attempt])).toEqual([
      ['payment.attempted', 1],
      ['payment.retrying', 1],
      ['payment.attempted', 2],
      ['shipment.sent', 1],
    ]);
    // A broadcast event is one event on two paths: same id.
    expect(mine.find((e) => e.name === 'shipment.sent')!.eventId).toBe(durable[2]!.event_id);
    expect(mine.some((e) => e.name === 'payment.declined')).toBe(false);
  });

  it('publishes permanent-failure events for a step that fails for good', async () => {
    const created = await orchestrator.createTask({ namespace: ns, name: 'declined', context: {} });
    expect((await waitForTask(db.pool, created.taskUuid)).state).toBe('error');
    const durable = (await durableEvents(db)).filter((m) => m.task_uuid === created.taskUuid);
    // The handler's error is retryable by default: attempts 1 and 2 were retryable failures (nothing declared
    // for them), the last attempt is a permanent failure.
    expect(durable.map((m) => [m.name, m.outcome])).toEqual([['payment.declined', 'permanent_failure']]);
    expect(durable[0]!.attempt).toBe(3);
  });

  it('a failing subscriber or a missing publisher never fails the step', async () => {
    const off = worker.events.subscribe('thing.*', () => {
      throw new Error('subscriber bug');
    });
    const failuresBefore = worker.events.stats.subscriberFailures;
    const eventsFailedBefore = worker.stats.eventsFailed;
    try {
      const created = await orchestrator.createTask({ namespace: ns, name: 'bad_publisher', context: {} });
      expect((await waitForTask(db.pool, created.taskUuid)).state).toBe('complete');
      await worker.events.drain(5000);
      expect(worker.events.stats.subscriberFailures).toBe(failuresBefore + 1);
      expect(worker.stats.eventsFailed).toBe(eventsFailedBefore + 1);
      // The event without a publisher problem still went out, on both paths.
      const durable = (await durableEvents(db)).filter((m) => m.task_uuid === created.taskUuid);
      expect(durable.map((m) => m.name)).toEqual(['thing.also']);
      expect(fast.filter((e) => e.taskUuid === created.taskUuid).map((e) => e.name)).toEqual(['thing.also']);
    } finally {
      off();
    }
  });

  it('durable events are consumed at least once: a failed delivery comes back, then is deleted', async () => {
    const config = testConfig(db.url);
    const before = (await durableEvents(db)).length;
    expect(before).toBeGreaterThan(0);
    const handled: string[] = [];
    let failNext = true;
    const consumer = new DurableEventConsumer({
      config,
      db: db.pool,
      namespace: ns,
      handler: (e) => {
        if (failNext && e.name === 'payment.processed') {
          failNext = false;
          throw new Error('consumer down');
        }
        handled.push(e.eventId);
      },
    });
    await consumer.start();
    try {
      const deadline = Date.now() + 30_000;
      while ((await durableEvents(db)).length > 0 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 50));
      }
    } finally {
      await consumer.stop();
    }
    expect(await durableEvents(db)).toEqual([]);
    expect(consumer.stats.failed).toBe(1);
    expect(new Set(handled).size).toBe(before); // each event handled once successfully
    expect(handled.length).toBe(before);
  });

  it('one event system per process, shared by every worker', () => {
    const other = createWorker({ config: testConfig(db.url), templates: [order], handlers });
    expect(other.events).toBe(worker.events);
    expect(worker.events).toBe(DomainEventSystem.shared());
    expect(worker.channels).toContain(DomainEventSystem.shared().channel);
  });
});

describe('domain events are never published for a result orchestration did not get', () => {
  let db: TestDatabase;

  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await db?.drop();
  });

  it('a stalled attempt whose late outcome is refused publishes nothing; its replacement does', async () => {
    // Short leases and no heartbeats: the first attempt's lease expires while its handler is still running.
    const config = testConfig(db.url, {
      common: { queues: { visibility_timeout_seconds: 1 } },
      worker: { heartbeat_interval_ms: 600_000, poll_interval_ms: 100 },
    });
    const orchestrator = createOrchestrator({ config });
    await orchestrator.registerTemplate(stalled);
    await orchestrator.start();
    const worker = createWorker({ config, templates: [stalled], handlers });
    const fast: DomainEvent[] = [];
    const off = worker.events.subscribe('slow.*', (e) => {
      fast.push(e);
    });
    await worker.start();
    try {
      const created = await orchestrator.createTask({ namespace: ns, name: 'stalled', context: {} });
      const task = await waitForTask(db.pool, created.taskUuid);
      expect(task.state).toBe('complete');
      // Wait until the stalled first attempt has returned and its outcome was refused.
      const deadline = Date.now() + 20_000;
      while (worker.stats.completionsRejected < 1 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 25));
      }
      expect(worker.stats.completionsRejected, JSON.stringify(worker.stats)).toBe(1);
      await worker.events.drain(5000);
      const durable = (await durableEvents(db)).filter((m) => m.task_uuid === created.taskUuid);
      expect(durable.map((m) => m.attempt)).toEqual([2]);
      expect(fast.filter((e) => e.taskUuid === created.taskUuid).map((e) => e.attempt)).toEqual([2]);
    } finally {
      off();
      await worker.stop();
      await orchestrator.stop();
    }
  });

  it('a result write that fails at the database publishes nothing until a later attempt is recorded', async () => {
    const config = testConfig(db.url, {
      common: { queues: { visibility_timeout_seconds: 1 } },
      // The fault below refuses result messages for orchestration, which the four-transaction path writes.
      worker: { poll_interval_ms: 100, resolve_in_completion: false },
    });
    const orchestrator = createOrchestrator({ config });
    const tpl = defineTemplate({ namespace: ns, name: 'write_fault', version: '1.0.0' })
      .step('only', {
        handler: 'ev.ok',
        retry: { maxAttempts: 5, backoffBaseMs: 10, maxBackoffMs: 20 },
        publishes: [{ name: 'only.done', delivery: 'broadcast' }],
      })
      .build();
    await orchestrator.registerTemplate(tpl);
    await orchestrator.start();
    // A real fault in PostgreSQL: result messages for orchestration cannot be written.
    await db.pool.query(`
      CREATE FUNCTION tasker.test_refuse_results() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW.queue_name = 'orchestration_step_results' THEN
          RAISE EXCEPTION 'results queue unavailable (test fault)';
        END IF;
        RETURN NEW;
      END $$;
      CREATE TRIGGER test_refuse_results BEFORE INSERT ON tasker.queue_messages
        FOR EACH ROW EXECUTE FUNCTION tasker.test_refuse_results();`);
    const worker = createWorker({ config, templates: [tpl], handlers });
    const fast: DomainEvent[] = [];
    const off = worker.events.subscribe('only.*', (e) => {
      fast.push(e);
    });
    await worker.start();
    try {
      const created = await orchestrator.createTask({ namespace: ns, name: 'write_fault', context: {} });
      // Wait until at least one attempt ran and its write failed.
      const deadline = Date.now() + 20_000;
      for (;;) {
        const { rows } = await db.pool.query<{ attempts: number }>(
          'SELECT attempts FROM tasker.workflow_steps WHERE task_uuid = $1',
          [created.taskUuid],
        );
        if ((rows[0]?.attempts ?? 0) >= 2 || Date.now() > deadline) break;
        await new Promise((r) => setTimeout(r, 50));
      }
      expect((await durableEvents(db)).filter((m) => m.task_uuid === created.taskUuid)).toEqual([]);
      await worker.events.drain(5000);
      expect(fast).toEqual([]);

      await db.pool.query('DROP TRIGGER test_refuse_results ON tasker.queue_messages');
      const task = await waitForTask(db.pool, created.taskUuid);
      expect(task.state).toBe('complete');
      await worker.events.drain(5000);
      const durable = (await durableEvents(db)).filter((m) => m.task_uuid === created.taskUuid);
      const recordedAttempt = task.steps[0]!.attempts;
      // Exactly one event, from the attempt whose result was recorded.
      expect(durable.map((m) => m.attempt)).toEqual([recordedAttempt]);
      expect(fast.map((e) => e.attempt)).toEqual([recordedAttempt]);
    } finally {
      off();
      await worker.stop();
      await orchestrator.stop();
    }
  });
});
