/**
 * What step errors reveal and what they cost: a huge error message is stored capped (message and stack, per
 * `worker.errors`) wherever the engine copies it, and API responses carry stacks only for operator callers.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dlqListBody, stepBody, stepListBody, taskBody, type StepErrorBody } from '../../src/api/index.js';
import { PermanentError } from '../../src/errors.js';
import { createTask } from '../../src/orchestration/task-creator.js';
import { defineTemplate } from '../../src/templates/index.js';
import { defineHandler } from '../../src/worker/handler.js';
import { startStack, type Stack } from '../client/helpers.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { waitForTask } from '../support/engine.js';
import { bodyOf } from './helpers.js';

const ns = 'step_errors';
const template = defineTemplate({ namespace: ns, name: 'fails', version: '1.0.0' })
  .step('boom', { handler: 'boom', retry: { maxAttempts: 1 } })
  .build();

/** About 100 kB of three-byte characters, so a byte cut would land inside a character unless done right. */
const HUGE = '€'.repeat(34_000) + ' end';
const MAX_MESSAGE = 1024;
const MAX_STACK = 512;
const MARKER = /… \[truncated [\d,]+ bytes\]$/;

const READER = 'reader-key-0123456789';
const OPERATOR = 'operator-key-0123456789';

const handlers = [
  defineHandler('boom', () => {
    throw new PermanentError(HUGE, { code: 'TOO_MUCH' });
  }),
];

function expectCapped(error: { message?: unknown; stack?: unknown } | null | undefined, withStack: boolean) {
  expect(error).toBeTruthy();
  const message = error!.message as string;
  expect(Buffer.byteLength(message, 'utf8')).toBeLessThanOrEqual(MAX_MESSAGE);
  expect(message).toMatch(MARKER);
  expect(message.startsWith('€€€€')).toBe(true);
  expect(message).not.toContain('\uFFFD');
  if (!withStack) {
    expect(error).not.toHaveProperty('stack');
    return;
  }
  const stack = error!.stack as string;
  expect(typeof stack).toBe('string');
  expect(Buffer.byteLength(stack, 'utf8')).toBeLessThanOrEqual(MAX_STACK);
  // Frames only: the message is not stored a second time in the stack.
  expect(stack).not.toContain('€');
  expect(stack).toMatch(/^\s+at /);
}

describe('step errors', () => {
  let db: TestDatabase;
  let stack: Stack;
  let taskUuid: string;
  let stepUuid: string;

  beforeAll(async () => {
    db = await createTestDatabase();
    stack = await startStack(db, {
      templates: [template],
      handlers,
      overrides: {
        worker: { errors: { max_message_bytes: MAX_MESSAGE, max_stack_bytes: MAX_STACK } },
        orchestration: {
          api: {
            auth: {
              enabled: true,
              api_keys: [
                { name: 'reader', key: READER, permissions: ['tasks:read', 'steps:read', 'dlq:read'] },
                {
                  name: 'operator',
                  key: OPERATOR,
                  permissions: ['tasks:read', 'steps:read', 'steps:resolve', 'dlq:read'],
                },
              ],
            },
          },
        },
      },
    });
    const created = await createTask(db.pool, { namespace: ns, name: 'fails', context: {} });
    taskUuid = created.taskUuid;
    const done = await waitForTask(db.pool, taskUuid);
    expect(done.state).toBe('error');
    stepUuid = done.steps[0]!.stepUuid;
  });
  afterAll(async () => {
    await stack?.stop();
    await db?.drop();
  });

  function get(url: string, key: string) {
    return stack.api.app.inject({ method: 'GET', url, headers: { 'x-api-key': key } });
  }

  it('a 100 kB message is stored capped, with the stack frames capped and without the message', async () => {
    const { rows } = await db.pool.query<{
      step: { message: string; stack?: string; code: string };
      task: { error: { message: string; stack?: string } };
      snapshot: { error: { error: { message: string; stack?: string } } } | null;
      bytes: number;
    }>(
      `SELECT s.results->'error' AS step, t.error AS task, d.task_snapshot AS snapshot,
              octet_length(s.results::text) AS bytes
       FROM tasker.workflow_steps s JOIN tasker.tasks t USING (task_uuid)
       LEFT JOIN tasker.tasks_dlq d ON d.task_uuid = t.task_uuid
       WHERE s.step_uuid = $1`,
      [stepUuid],
    );
    const row = rows[0]!;
    expect(row.step.code).toBe('TOO_MUCH');
    expectCapped(row.step, true);
    // The copies the engine makes (the task's first error, the dead-letter snapshot) are the capped record.
    expectCapped(row.task.error, true);
    expect(row.snapshot, 'a dead-letter entry was filed').not.toBeNull();
    expectCapped(row.snapshot!.error.error, true);
    // Message and stack together, plus the record around them, stay within a few kB instead of 200 kB.
    expect(row.bytes).toBeLessThan(MAX_MESSAGE * 2 + MAX_STACK * 2 + 1024);
  });

  it('a caller without an operator permission sees no stack anywhere', async () => {
    const task = bodyOf(await get(`/v1/tasks/${taskUuid}`, READER), taskBody);
    expectCapped(task.steps[0]!.error, false);
    expectCapped(task.error?.error, false);
    const step = bodyOf(await get(`/v1/tasks/${taskUuid}/steps/${stepUuid}`, READER), stepBody);
    expectCapped(step.error, false);
    const steps = bodyOf(await get(`/v1/tasks/${taskUuid}/steps`, READER), stepListBody);
    expectCapped(steps.items[0]!.error, false);
    const dlq = bodyOf(await get('/v1/dlq', READER), dlqListBody);
    const entry = dlq.items.find((e) => e.task_uuid === taskUuid);
    expect(entry).toBeDefined();
    const snapshotError = (entry!.task_snapshot.error as { error: StepErrorBody }).error;
    expectCapped(snapshotError, false);
    const one = await get(`/v1/dlq/${entry!.dlq_entry_uuid}`, READER);
    expect(one.statusCode).toBe(200);
    expect(one.body).not.toContain('"stack"');
  });

  it('an operator sees the (capped) stack', async () => {
    const task = bodyOf(await get(`/v1/tasks/${taskUuid}`, OPERATOR), taskBody);
    expectCapped(task.steps[0]!.error, true);
    expectCapped(task.error?.error, true);
    const step = bodyOf(await get(`/v1/tasks/${taskUuid}/steps/${stepUuid}`, OPERATOR), stepBody);
    expectCapped(step.error, true);
    const dlq = bodyOf(await get('/v1/dlq', OPERATOR), dlqListBody);
    const entry = dlq.items.find((e) => e.task_uuid === taskUuid);
    expectCapped((entry!.task_snapshot.error as { error: StepErrorBody }).error, true);
  });
});
