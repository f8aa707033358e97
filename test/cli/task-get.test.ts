/** `tasker task get` without --json: every step's result or error, skipped steps as skipped. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PermanentError } from '../../src/errors.js';
import { defineTemplate } from '../../src/templates/index.js';
import { decide } from '../../src/worker/dynamic.js';
import { defineHandler } from '../../src/worker/handler.js';
import { startStack, type Stack } from '../client/helpers.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { waitForTask } from '../support/engine.js';
import { tasker } from './run.js';

const ns = 'cli_task_get';
const branchy = defineTemplate({ namespace: ns, name: 'branchy', version: '1.0.0' })
  .step('fetch', { handler: 'tg.fetch' })
  .step('route', { handler: 'tg.route', type: 'decision', dependsOn: ['fetch'] })
  .step('taken', { handler: 'tg.fail', dependsOn: ['route'], retry: { maxAttempts: 1 } })
  .step('not_taken', { handler: 'tg.fetch', dependsOn: ['route'] })
  .build();

const handlers = [
  defineHandler('tg.fetch', () => ({ rows: 42, source: 'x'.repeat(200) })),
  defineHandler('tg.route', () => decide(['taken'])),
  defineHandler('tg.fail', () => {
    throw new PermanentError('card declined', { code: 'DECLINED' });
  }),
];

describe('tasker task get', () => {
  let db: TestDatabase;
  let stack: Stack;
  beforeAll(async () => {
    db = await createTestDatabase();
    stack = await startStack(db, { templates: [branchy], handlers });
  });
  afterAll(async () => {
    await stack?.stop();
    await db?.drop();
  });

  it('shows results (short), errors (code: message) and skipped steps, without colour off a terminal', async () => {
    const { taskUuid } = await stack.engine.orchestrator.createTask({
      namespace: ns,
      name: 'branchy',
      context: {},
    });
    expect((await waitForTask(db.pool, taskUuid)).state).toBe('error');
    const res = await tasker(['task', 'get', taskUuid], { TASKER_URL: stack.url });
    expect(res.code, res.stderr).toBe(0);
    const row = (name: string): string => res.stdout.split('\n').find((l) => l.startsWith(`${name} `)) ?? '';
    expect(row('fetch')).toMatch(/complete .*result \{"rows":42,"source":"x+…$/);
    expect(row('fetch').length).toBeLessThan(200);
    expect(row('taken')).toMatch(/error .*DECLINED: card declined$/);
    expect(row('not_taken')).toMatch(/skipped .*skipped: not on a chosen branch$/);
    expect(res.stdout).toContain('RESULT / ERROR');

    expect(res.stdout).not.toMatch(/\u001b\[/);
  });
});
