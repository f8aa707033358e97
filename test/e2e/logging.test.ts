/** What the engine writes to its log: one JSON object per line, no repeated keys, handlers' lines located. */
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DomainEventSystem } from '../../src/events/event-system.js';
import { createOrchestrator } from '../../src/orchestration/orchestrator.js';
import { defineTemplate } from '../../src/templates/index.js';
import { defineHandler } from '../../src/worker/handler.js';
import { createWorker } from '../../src/worker/worker.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { testConfig, waitForTask } from '../support/engine.js';
import { duplicateKeys, parseLogLines } from '../support/log-lines.js';

const ns = 'logging_e2e';
const template = defineTemplate({ namespace: ns, name: 'logs', version: '1.0.0' })
  .step('first', { handler: 'logs.say' })
  .step('second', { handler: 'logs.say', dependsOn: ['first'] })
  .build();

describe('engine log lines', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await db?.drop();
  });

  it('ctx.logger carries task, step and attempt; no line repeats a key', async () => {
    const lines: string[] = [];
    // One logger for the whole process, as `tasker dev` does; debug so that as many lines as possible are checked.
    const logger = pino(
      { level: 'debug', name: 'tasker-test' },
      { write: (l: string) => void lines.push(l) },
    );
    const config = testConfig(db.url);
    const events = new DomainEventSystem();
    const orchestrator = createOrchestrator({ config, logger });
    await orchestrator.registerTemplate(template);
    const worker = createWorker({
      config,
      logger,
      events,
      templates: [template],
      handlers: [
        defineHandler('logs.say', (ctx) => {
          ctx.logger.info({ custom: 1 }, `hello from ${ctx.stepName}`);
          return { ok: true };
        }),
      ],
    });
    await orchestrator.start();
    await worker.start();
    try {
      const { taskUuid } = await orchestrator.createTask({ namespace: ns, name: 'logs', context: {} });
      expect((await waitForTask(db.pool, taskUuid)).state).toBe('complete');
      // A second, different channel configuration is refused with a warning from the event system's logger,
      // which the worker derived from its own (component 'worker').
      events.configure({ capacity: 3, overflow_policy: 'drop_oldest', send_timeout_ms: 0 });
    } finally {
      await worker.stop();
      await orchestrator.stop();
    }

    const parsed = parseLogLines(lines);
    const said = parsed.filter((l) => typeof l.msg === 'string' && l.msg.startsWith('hello from'));
    expect(said.map((l) => l.stepName).sort()).toEqual(['first', 'second']);
    for (const l of said) {
      expect(l).toMatchObject({ attempt: 1, custom: 1, component: 'worker' });
      expect(l.taskUuid).toMatch(/^[0-9a-f-]{36}$/);
      expect(l.stepUuid).toMatch(/^[0-9a-f-]{36}$/);
    }
    const refused = parsed.find((l) => String(l.msg).includes('already configured'));
    expect(refused).toMatchObject({ component: 'domain-events', worker: worker.id });
    expect(parsed.some((l) => l.component === 'orchestrator')).toBe(true);
  });

  it('the strict parser finds a repeated key, also in nested objects', () => {
    expect(duplicateKeys('{"a":1,"b":{"c":1,"c":2},"a":3}')).toEqual(['c', 'a']);
    expect(duplicateKeys('{"a":[{"x":1},{"x":2}],"s":"\\"a\\",","b":1}')).toEqual([]);
  });
});
