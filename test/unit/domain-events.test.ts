import { describe, expect, it } from 'vitest';
import { DomainEventSystem } from '../../src/events/event-system.js';
import { compileEventPattern, conditionMatches, firingDeclarations } from '../../src/events/matching.js';
import { buildStepEvents, defineEventPublisher, outcomeOf } from '../../src/events/publisher.js';
import type { DomainEvent } from '../../src/events/types.js';
import { silentLogger } from '../../src/observability/logger.js';
import { TemplateValidationError } from '../../src/errors.js';
import { defineTemplate, parseYamlTemplate, type EventDeclaration } from '../../src/templates/index.js';
import type { ClaimedStep, StepResultRecord } from '../../src/worker/claimed-step.js';

const step = {
  msgId: '1',
  queue: 'worker_shop_queue',
  stepUuid: '00000000-0000-7000-8000-000000000002',
  taskUuid: '00000000-0000-7000-8000-000000000001',
  stepName: 'charge',
  handler: 'shop.charge',
  attempt: 2,
  maxAttempts: 3,
  retryable: true,
  retryPolicy: {
    retryable: true,
    maxAttempts: 3,
    backoffBaseMs: 10,
    backoffMultiplier: 2,
    maxBackoffMs: 100,
    jitter: 0,
  },
  timeoutMs: null,
  inputs: { currency: 'EUR' },
  context: { order: 7 },
  namespace: 'shop',
  templateName: 'order',
  templateVersion: '1.0.0',
  correlationId: '00000000-0000-7000-8000-000000000003',
  dependencyResults: {},
} as unknown as ClaimedStep;

const meta = { attempt: 2, worker_id: 'w', started_at: new Date(0).toISOString(), execution_time_ms: 1 };
const success: StepResultRecord = { success: true, result: { amount: 12 }, metadata: meta };
const retryable: StepResultRecord = {
  success: false,
  result: null,
  error: { name: 'Error', message: 'busy', retryable: true },
  retry_delay_ms: 10,
  metadata: meta,
};
const permanent: StepResultRecord = {
  success: false,
  result: null,
  error: { name: 'PermanentError', message: 'declined', retryable: false },
  metadata: meta,
};

const decl = (
  name: string,
  condition: EventDeclaration['condition'],
  delivery: EventDeclaration['delivery'] = 'durable',
  publisher?: string,
): EventDeclaration => ({ name, condition, delivery, ...(publisher ? { publisher } : {}) });

describe('event conditions', () => {
  it('match outcomes as documented', () => {
    const table: [EventDeclaration['condition'], boolean, boolean, boolean][] = [
      // condition, success, retryable failure, permanent failure
      ['success', true, false, false],
      ['failure', false, true, true],
      ['retryable_failure', false, true, false],
      ['permanent_failure', false, false, true],
      ['always', true, true, true],
    ];
    for (const [condition, s, r, p] of table) {
      expect([
        conditionMatches(condition, 'success'),
        conditionMatches(condition, 'retryable_failure'),
        conditionMatches(condition, 'permanent_failure'),
      ]).toEqual([s, r, p]);
    }
  });

  it('judge a record by whether another attempt will follow', () => {
    expect(outcomeOf(success)).toBe('success');
    expect(outcomeOf(retryable)).toBe('retryable_failure');
    expect(outcomeOf(permanent)).toBe('permanent_failure');
    // A retryable error on the last attempt carries no retry delay: no attempt follows, so it is permanent.
    expect(outcomeOf({ ...retryable, retry_delay_ms: undefined })).toBe('permanent_failure');
  });

  it('select firing declarations in order', () => {
    const all = [decl('a.ok', 'success'), decl('a.any', 'always'), decl('a.bad', 'failure')];
    expect(firingDeclarations(all, 'success').map((d) => d.name)).toEqual(['a.ok', 'a.any']);
    expect(firingDeclarations(all, 'permanent_failure').map((d) => d.name)).toEqual(['a.any', 'a.bad']);
    expect(firingDeclarations(undefined, 'success')).toEqual([]);
  });
});

describe('event patterns', () => {
  it('match one segment with * and any with **', () => {
    const one = compileEventPattern('payment.*');
    expect(one('payment.processed')).toBe(true);
    expect(one('payment.refund.issued')).toBe(false);
    expect(one('payments.processed')).toBe(false);
    const deep = compileEventPattern('payment.**');
    expect(deep('payment.refund.issued')).toBe(true);
    expect(compileEventPattern('*')('anything.at.all')).toBe(true);
    expect(compileEventPattern('order.created')('order.created')).toBe(true);
    expect(compileEventPattern('order.created')('order_created')).toBe(false);
  });

  it('refuse patterns with other characters', () => {
    expect(() => compileEventPattern('payment.(x|y)')).toThrow(/invalid event pattern/);
  });
});

describe('buildStepEvents', () => {
  const logger = silentLogger();

  it('splits by delivery, broadcast into both with one id, default payloads', () => {
    const events = buildStepEvents(
      step,
      success,
      [
        decl('pay.done', 'success', 'durable'),
        decl('pay.seen', 'always', 'fast'),
        decl('pay.all', 'success', 'broadcast'),
      ],
      new Map(),
      logger,
    );
    expect(events.durable.map((e) => e.name)).toEqual(['pay.done', 'pay.all']);
    expect(events.fast.map((e) => e.name)).toEqual(['pay.seen', 'pay.all']);
    expect(events.durable[1]!.eventId).toBe(events.fast[1]!.eventId);
    expect(events.durable[0]).toMatchObject({
      payload: { result: { amount: 12 } },
      outcome: 'success',
      attempt: 2,
      taskUuid: step.taskUuid,
      namespace: 'shop',
      templateName: 'order',
    });
    const failed = buildStepEvents(step, permanent, [decl('pay.failed', 'failure')], new Map(), logger);
    expect(failed.durable[0]!.payload).toEqual({ error: permanent.error });
  });

  it('lets a publisher shape the payload, and drops only the event whose publisher fails', () => {
    const publishers = new Map(
      [
        defineEventPublisher('public', ({ result, context }) => ({
          amount: (result as { amount: number }).amount,
          order: context.order,
        })),
        defineEventPublisher('broken', () => {
          throw new Error('boom');
        }),
      ].map((p) => [p.name, p]),
    );
    const events = buildStepEvents(
      step,
      success,
      [
        decl('pay.public', 'success', 'durable', 'public'),
        decl('pay.broken', 'success', 'durable', 'broken'),
        decl('pay.missing', 'success', 'durable', 'not_registered'),
      ],
      publishers,
      logger,
    );
    expect(events.durable.map((e) => [e.name, e.payload])).toEqual([
      ['pay.public', { amount: 12, order: 7 }],
    ]);
    expect(events.failed).toBe(2);
  });
});

function event(name: string, n = 0): DomainEvent {
  return {
    eventId: `e${n}`,
    name,
    delivery: 'fast',
    condition: 'success',
    outcome: 'success',
    occurredAt: new Date(0).toISOString(),
    namespace: 'shop',
    templateName: 'order',
    templateVersion: '1.0.0',
    taskUuid: 't',
    stepUuid: 's',
    stepName: 'charge',
    correlationId: 'c',
    attempt: 1,
    payload: null,
  };
}

describe('DomainEventSystem', () => {
  it('delivers to matching subscribers; a failing subscriber is counted and harms nobody', async () => {
    const system = new DomainEventSystem();
    system.configure({ capacity: 10, overflow_policy: 'drop_newest', send_timeout_ms: 0 });
    const seen: string[] = [];
    system.subscribe('pay.*', (e) => {
      seen.push(`a:${e.name}`);
    });
    system.subscribe('pay.done', () => {
      throw new Error('subscriber bug');
    });
    const off = system.subscribe('*', async (e) => {
      await Promise.resolve();
      seen.push(`b:${e.name}`);
    });
    expect(system.publish([event('pay.done', 1), event('ship.sent', 2)])).toBe(2);
    expect(await system.drain(5000)).toBe(true);
    expect(seen.sort()).toEqual(['a:pay.done', 'b:pay.done', 'b:ship.sent']);
    expect(system.stats).toMatchObject({ published: 2, delivered: 3, subscriberFailures: 1 });
    off();
    system.publish([event('ship.sent', 3)]);
    await system.drain(5000);
    expect(system.stats.unmatched).toBe(1);
  });

  it('never waits when full: drops per policy and counts', async () => {
    const system = new DomainEventSystem();
    system.configure({ capacity: 2, overflow_policy: 'drop_newest', send_timeout_ms: 0 });
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const got: string[] = [];
    system.subscribe('*', async (e) => {
      await gate;
      got.push(e.eventId);
    });
    // The first event is taken by the dispatcher (held at the gate); two more fill the channel.
    system.publish([event('x.a', 1)]);
    await new Promise((r) => setImmediate(r));
    const accepted = system.publish([event('x.a', 2), event('x.a', 3), event('x.a', 4), event('x.a', 5)]);
    expect(accepted).toBe(2);
    expect(system.stats.dropped).toBe(2);
    expect(system.channel.stats().dropped).toBe(2);
    release();
    expect(await system.drain(5000)).toBe(true);
    expect(got).toEqual(['e1', 'e2', 'e3']);
  });

  it('keeps the first configuration of the process', () => {
    const system = new DomainEventSystem();
    system.configure({ capacity: 3, overflow_policy: 'drop_oldest', send_timeout_ms: 0 });
    system.configure({ capacity: 99, overflow_policy: 'drop_newest', send_timeout_ms: 0 });
    expect(system.channel.capacity).toBe(3);
    expect(DomainEventSystem.shared()).toBe(DomainEventSystem.shared());
  });
});

describe('publishes_events in templates', () => {
  const yaml = (events: string): string =>
    `name: order\nnamespace_name: shop\nversion: "1.0.0"\nsteps:\n  - name: charge\n    handler: shop.charge\n    publishes_events:\n${events}`;

  it('parses declarations with defaults and the delivery_mode spelling', () => {
    const t = parseYamlTemplate(
      yaml(
        `      - name: payment.processed\n        description: paid\n        schema: { type: object }\n      - name: payment.failed\n        condition: permanent_failure\n        delivery_mode: broadcast\n        publisher: public\n`,
      ),
    );
    expect(t.steps[0]!.publishesEvents).toEqual([
      { name: 'payment.processed', description: 'paid', condition: 'success', delivery: 'durable' },
      { name: 'payment.failed', condition: 'permanent_failure', delivery: 'broadcast', publisher: 'public' },
    ]);
  });

  it('rejects bad declarations with the line they are on', () => {
    let error: unknown;
    try {
      parseYamlTemplate(
        yaml(
          `      - name: Payment Processed\n      - name: payment.x\n        condition: sometimes\n      - name: payment.y\n        delivery_mode: carrier_pigeon\n      - name: payment.z\n        colour: red\n`,
        ),
      );
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(TemplateValidationError);
    const issues = (error as TemplateValidationError).issues.map((i) => `${i.line ?? '?'}: ${i.message}`);
    expect(issues.join('\n')).toMatch(/8: event name "Payment Processed" is invalid/);
    expect(issues.join('\n')).toMatch(/10: event condition must be one of/);
    expect(issues.join('\n')).toMatch(/12: event delivery must be one of/);
    expect(issues.join('\n')).toMatch(/14: unknown event key 'colour'/);
  });

  it('are part of the DSL and of the template fingerprint', () => {
    const base = defineTemplate({ namespace: 'shop', name: 'order', version: '1.0.0' });
    const t = base
      .step('charge', { handler: 'shop.charge', publishes: [{ name: 'payment.processed' }] })
      .build();
    expect(t.steps[0]!.publishesEvents).toEqual([
      { name: 'payment.processed', condition: 'success', delivery: 'durable' },
    ]);
    expect(() =>
      defineTemplate({ namespace: 'shop', name: 'order', version: '1.0.0' })
        .step('charge', {
          handler: 'shop.charge',
          publishes: [{ name: 'payment.processed' }, { name: 'payment.processed' }],
        })
        .build(),
    ).toThrow(/declared twice/);
  });
});
