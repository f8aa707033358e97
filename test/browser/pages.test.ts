/**
 * The dashboard in a real browser, reading: signing in (a wrong key is refused), every page with real data (the
 * example workflows, a retried payment, failures in the dead-letter queue) and its screenshot for
 * docs/dashboard.md, a template's runs grid opening a step, and a read-only user who sees no operator action
 * (and whom the API refuses anyway).
 */
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TaskBody } from '../../src/api/index.js';
import { PermanentError } from '../../src/errors.js';
import { defineTemplate, loadTemplatesFromDir } from '../../src/templates/index.js';
import type { TaskTemplate } from '../../src/templates/types.js';
import { defineHandler, handlersFromModule } from '../../src/worker/handler.js';
import { exampleTasks } from '../../examples/dev-tasks.js';
import * as exampleHandlerModule from '../../examples/handlers.js';
import { waitForTask } from '../support/engine.js';
import {
  ADMIN_KEY,
  Gates,
  HAS_CHROMIUM,
  poll,
  JWT_SECRET,
  READER_KEY,
  screenshot,
  signIn,
  startDashboard,
  suiteName,
  type Dashboard,
} from './harness.js';

const report = defineTemplate({ namespace: 'reports', name: 'nightly_report', version: '1.0.0' })
  .step('extract', { handler: 'report.extract' })
  .step('render', { handler: 'report.render', dependsOn: ['extract'] })
  .step('publish', { handler: 'report.publish', dependsOn: ['render'] })
  .build();
/** 1,000 steps: one root, 998 in parallel, one join. */
const wide = (() => {
  let builder = defineTemplate({ namespace: 'reports', name: 'wide_fanout', version: '1.0.0' }).step(
    'start',
    {
      handler: 'report.extract',
    },
  ) as unknown as { step(name: string, options: { handler: string; dependsOn?: string[] }): typeof builder };
  const workers = Array.from({ length: 998 }, (_, i) => `part_${String(i).padStart(3, '0')}`);
  for (const name of workers) {
    builder = builder.step(name, { handler: 'report.extract', dependsOn: ['start'] });
  }
  return (
    builder.step('join', { handler: 'report.extract', dependsOn: workers }) as unknown as {
      build(): TaskTemplate;
    }
  ).build();
})();
const gates = new Gates();
const handlers = [
  defineHandler('report.extract', (ctx) => ({ rows: 1200 + Number(ctx.context.day ?? 0) })),
  defineHandler('report.render', (ctx) => {
    if (ctx.context.broken === true) {
      throw new PermanentError('template variable "region" is undefined', { code: 'RENDER_FAILED' });
    }
    return { pages: 14 };
  }),
  defineHandler('report.publish', async (ctx) => {
    if (ctx.context.hold === true) await gates.wait(ctx.taskUuid, ctx.signal);
    return { url: `https://reports.example/${String(ctx.context.day)}` };
  }),
];

async function createTask(d: Dashboard, namespace: string, name: string, context: Record<string, unknown>) {
  return d.request<TaskBody>('POST', '/v1/tasks', { namespace, name, context });
}

describe.skipIf(!HAS_CHROMIUM)(suiteName('dashboard pages'), () => {
  let d: Dashboard;
  let page: Page;
  let failed: TaskBody;
  let running: TaskBody;
  let order: TaskBody;

  beforeAll(async () => {
    const examples = await loadTemplatesFromDir(
      fileURLToPath(new URL('../../examples/templates', import.meta.url)),
    );
    const templates: TaskTemplate[] = [...examples, report, wide];
    d = await startDashboard({
      templates,
      handlers: [...handlersFromModule(exampleHandlerModule), ...handlers],
    });
    const created: TaskBody[] = [];
    for (const t of exampleTasks) created.push(await createTask(d, t.namespace, t.name, t.context));
    for (let day = 1; day <= 8; day++) {
      created.push(await createTask(d, 'reports', 'nightly_report', { day, broken: day === 3 || day === 6 }));
    }
    for (const t of created) await waitForTask(d.db.pool, t.task_uuid);
    failed = created.find((t) => t.name === 'nightly_report' && t.context.broken === true) as TaskBody;
    order = created.find((t) => t.name === 'order_fulfillment') as TaskBody;
    running = await createTask(d, 'reports', 'nightly_report', { day: 9, hold: true });
    ({ page } = await d.newPage());
  }, 180_000);

  afterAll(async () => {
    if (running) gates.open(running.task_uuid);
    await d?.stop();
  });

  it('refuses a wrong key with a clear message, and stores nothing', async () => {
    await page.goto(`${d.url}/ui/`);
    await page.getByLabel('API key or JWT').fill('not-the-right-key');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await poll(() => page.getByRole('alert').textContent()).toContain('This key or token was refused');
    expect(await page.evaluate(() => sessionStorage.length)).toBe(0);
    await screenshot(page, 'sign-in');
  });

  it('signs in with a JWT and shows only the pages its permissions open', async () => {
    const token = await new SignJWT({ permissions: ['tasks:read', 'steps:read'] })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('jwt-operator')
      .setExpirationTime('10m')
      .sign(new TextEncoder().encode(JWT_SECRET));
    const { context, page: jwtPage } = await d.newPage();
    await signIn(jwtPage, d.url, `Bearer ${token}`, '#/tasks');
    const whoami = jwtPage.locator('.whoami');
    await poll(() => whoami.textContent()).toContain('jwt-operator');
    expect(await whoami.textContent()).toContain('JWT');
    const nav = jwtPage.getByRole('navigation', { name: 'Main' });
    expect(await nav.getByRole('link').allTextContents()).toEqual(['Tasker', 'Overview', 'Tasks']);
    await poll(() => jwtPage.locator('.task-row[data-task]').count()).toBeGreaterThan(0);
    await context.close();
  });

  it('shows the overview: tasks over time, active tasks, queues, dead letters and health', async () => {
    await signIn(page, d.url, ADMIN_KEY);
    const overview = page.locator('section[data-page="overview"]');
    await overview.getByText('Tasks over time').waitFor();
    await poll(() =>
      overview.locator('.stat').filter({ hasText: 'Open dead letters' }).textContent(),
    ).toContain('2');
    await overview.getByText('Circuit breakers').waitFor();
    await screenshot(page, 'overview');
  });

  it('lists tasks with filters and finds one by id prefix', async () => {
    await page.goto(`${d.url}/ui/#/tasks`);
    await poll(() => page.locator('.task-row[data-task]').count()).toBeGreaterThanOrEqual(18);
    await screenshot(page, 'tasks');
    await page.locator('.chip[data-state="error"]').click();
    await poll(() => page.locator('.task-row[data-task]').count()).toBe(2);
    expect(page.url()).toContain('state=error');
    // A prefix long enough to reach the random bits (UUIDv7 ids made in the same millisecond share 12 digits).
    await page.getByLabel('Search tasks').fill(failed.task_uuid.slice(0, 24));
    await page.getByLabel('Search tasks').press('Enter');
    await poll(() => page.locator('.task-row[data-task]').count()).toBe(1);
    await page.locator(`.task-row[data-task="${failed.task_uuid}"]`).waitFor();
  });

  it('shows a task with a retried step: its timeline has both attempts and the wait between them', async () => {
    await page.goto(`${d.url}/ui/#/tasks/${order.task_uuid}`);
    const payment = page.locator('.timeline-row[data-step="process_payment"]');
    await poll(() => payment.locator('.bar-attempt').count()).toBe(2);
    await payment.locator('.bar-attempt[data-outcome="retry"]').waitFor();
    await payment.locator('.bar-wait').waitFor();
    await page.locator('g.dag-node[data-node="process_payment"]').click();
    await page
      .getByRole('complementary', { name: 'Step process_payment' })
      .getByTestId('audit-trail')
      .waitFor();
    await screenshot(page, 'task-retried');
  });

  it("shows a template's versions, graph, definition and runs grid; a cell opens that step of that run", async () => {
    await page.goto(`${d.url}/ui/#/templates`);
    await page.locator('tr[data-template="reports/nightly_report"]').waitFor();
    await screenshot(page, 'templates');
    await page
      .locator('tr[data-template="reports/nightly_report"]')
      .getByRole('link', { name: 'nightly_report' })
      .click();
    const grid = page.getByTestId('runs-grid');
    await poll(() => grid.locator('a.cell[data-step="render"][data-state="error"]').count()).toBe(2);
    await page.locator('g.dag-node[data-node="publish"]').waitFor();
    await screenshot(page, 'template');
    await grid.locator('a.cell[data-step="render"][data-state="error"]').first().click();
    const panel = page.getByRole('complementary', { name: 'Step render' });
    await poll(() => panel.getByTestId('step-error').first().textContent()).toContain(
      'template variable "region"',
    );
  });

  it('shows the dead-letter queue with reasons; notes are kept and an entry resolved', async () => {
    await page.goto(`${d.url}/ui/#/dlq`);
    const entries = page.locator('article.dlq-entry');
    await poll(() => entries.count()).toBe(2);
    await poll(() => entries.first().textContent()).toContain('template variable "region" is undefined');
    await screenshot(page, 'dead-letters');
    const entry = entries.first();
    await entry
      .getByLabel('Investigation notes')
      .fill('region missing from the upstream feed; re-ran by hand');
    await entry.getByRole('button', { name: 'Mark resolved' }).click();
    await poll(() => entries.count()).toBe(2);
    await page.locator('article.dlq-entry[data-status="manually_resolved"]').waitFor();
    const resolved = await d.request<{
      items: { resolution_status: string; resolution_notes: string | null }[];
    }>('GET', '/v1/dlq?resolution_status=manually_resolved');
    expect(resolved.items.map((e) => e.resolution_notes)).toEqual([
      'region missing from the upstream feed; re-ran by hand',
    ]);
  });

  it('draws a 1,000-step task whole, recolours it live, and keeps its timeline rows virtualised', async () => {
    const task = await createTask(d, 'reports', 'wide_fanout', { day: 0 });
    await page.goto(`${d.url}/ui/#/tasks/${task.task_uuid}`);
    await poll(() => page.locator('g.dag-node').count()).toBe(1000);
    await page.locator('g.dag-node[data-node="start"][data-state="complete"]').waitFor();
    await poll(() => page.locator('g.dag-node[data-state="complete"]').count()).toBeGreaterThan(20);
    await screenshot(page, 'task-large');
    const rows = await page.locator('.timeline-row').count();
    expect(rows).toBeGreaterThan(0);
    expect(rows).toBeLessThan(60);
    // The rest of the work is not this test's: stop it.
    await d.request('DELETE', `/v1/tasks/${task.task_uuid}?reason=test%20done`);
    await page.locator('section.task-page[data-task-state="cancelled"]').waitFor();
  });

  it('shows a read-only user no operator action, and the API refuses them anyway', async () => {
    const { context, page: reader } = await d.newPage();
    await signIn(reader, d.url, READER_KEY, '#/tasks');
    await reader.locator('.whoami').getByText('read-only').waitFor();
    await poll(() => reader.locator('.task-row[data-task]').count()).toBeGreaterThan(0);
    expect(await reader.locator('input[type="checkbox"]').count()).toBe(0);
    expect(await reader.getByRole('toolbar', { name: 'Bulk actions' }).count()).toBe(0);

    await reader.goto(`${d.url}/ui/#/tasks/${running.task_uuid}`);
    await reader.locator('g.dag-node[data-node="publish"][data-state="in_progress"]').waitFor();
    expect(await reader.getByRole('button', { name: 'Cancel task' }).count()).toBe(0);

    await reader.goto(`${d.url}/ui/#/tasks/${failed.task_uuid}`);
    await reader.locator('g.dag-node[data-node="render"][data-state="error"]').click();
    const panel = reader.getByRole('complementary', { name: 'Step render' });
    await poll(() => panel.getByTestId('step-error').first().textContent()).toContain('template variable');
    await panel.getByTestId('audit-trail').waitFor();
    expect(await panel.getByRole('group', { name: 'Step actions' }).count()).toBe(0);
    expect(await panel.getByRole('button', { name: /Retry|Resolve|Complete|Re-run/ }).count()).toBe(0);

    await reader.goto(`${d.url}/ui/#/dlq?status=all`);
    await poll(() => reader.locator('article.dlq-entry').count()).toBe(2);
    expect(await reader.getByLabel('Investigation notes').count()).toBe(0);

    const refused = await fetch(`${d.url}/v1/tasks/${running.task_uuid}`, {
      method: 'DELETE',
      headers: { 'x-api-key': READER_KEY },
    });
    expect(refused.status).toBe(403);
    await context.close();
  });
});
