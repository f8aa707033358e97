/**
 * The dashboard in a real browser, operating tasks: watch a task complete live, read a failed step's error and
 * retry it, re-run from a step, cancel a task, and bulk-cancel by filter. Real engine, real API server with auth
 * on, Debian's Chromium.
 */
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TaskBody } from '../../src/api/index.js';
import { PermanentError } from '../../src/errors.js';
import { defineTemplate } from '../../src/templates/index.js';
import { defineHandler } from '../../src/worker/handler.js';
import {
  ADMIN_KEY,
  Gates,
  HAS_CHROMIUM,
  poll,
  screenshot,
  signIn,
  startDashboard,
  suiteName,
  type Dashboard,
} from './harness.js';

const ns = 'dash_ops';
const live = defineTemplate({ namespace: ns, name: 'live', version: '1.0.0' })
  .step('prepare', { handler: 'dash.work' })
  .step('gate', { handler: 'dash.gate', dependsOn: ['prepare'] })
  .step('finish', { handler: 'dash.work', dependsOn: ['gate'] })
  .build();
const payment = defineTemplate({ namespace: ns, name: 'payment', version: '1.0.0' })
  .step('fetch', { handler: 'dash.work' })
  .step('charge', { handler: 'dash.charge', dependsOn: ['fetch'] })
  .step('ship', { handler: 'dash.work', dependsOn: ['charge'] })
  .build();
const held = defineTemplate({ namespace: 'dash_bulk', name: 'held', version: '1.0.0' })
  .step('wait', { handler: 'dash.gate' })
  .build();

const gates = new Gates();
/** Handler runs by `task:step`, to tell which steps a re-run ran again. */
const runs = new Map<string, number>();
let chargeFixed = false;

function counted(taskUuid: string, step: string): void {
  runs.set(`${taskUuid}:${step}`, (runs.get(`${taskUuid}:${step}`) ?? 0) + 1);
}

const handlers = [
  defineHandler('dash.work', (ctx) => {
    counted(ctx.taskUuid, ctx.stepName);
    return { step: ctx.stepName, at: ctx.attempt };
  }),
  defineHandler('dash.gate', async (ctx) => {
    await gates.wait(ctx.taskUuid, ctx.signal);
    return { opened: true };
  }),
  defineHandler('dash.charge', (ctx) => {
    counted(ctx.taskUuid, ctx.stepName);
    if (!chargeFixed) throw new PermanentError('card declined: insufficient funds', { code: 'DECLINED' });
    return { charged: 42 };
  }),
];

async function createTask(
  d: Dashboard,
  namespace: string,
  name: string,
  context: Record<string, unknown> = {},
) {
  return d.request<TaskBody>('POST', '/v1/tasks', { namespace, name, context });
}

const node = (page: Page, name: string, state?: string) =>
  page.locator(`g.dag-node[data-node="${name}"]${state ? `[data-state="${state}"]` : ''}`);
const taskState = (page: Page, state: string) =>
  page.locator(`section.task-page[data-task-state="${state}"]`);
const stripeFill = (page: Page, name: string) =>
  node(page, name)
    .locator('.dag-stripe')
    .evaluate((el) => (globalThis as unknown as BrowserGlobals).getComputedStyle(el).fill);

/** The browser globals the page functions use (this file is type-checked without the DOM library). */
interface BrowserGlobals {
  getComputedStyle(el: unknown): { fill: string };
  __noReload?: boolean;
}

describe.skipIf(!HAS_CHROMIUM)(suiteName('dashboard operations'), () => {
  let d: Dashboard;
  let page: Page;

  beforeAll(async () => {
    d = await startDashboard({ templates: [live, payment, held], handlers });
    ({ page } = await d.newPage());
    await signIn(page, d.url, ADMIN_KEY);
  }, 180_000);

  afterAll(async () => {
    await d?.stop();
  });

  it('shows a task complete live: the graph changes colour without a reload', async () => {
    const task = await createTask(d, ns, 'live');
    await page.goto(`${d.url}/ui/#/tasks/${task.task_uuid}`);
    await node(page, 'gate', 'in_progress').waitFor();
    expect(await stripeFill(page, 'gate')).toBe('rgb(37, 99, 235)');
    await node(page, 'prepare', 'complete').waitFor();
    // A marker on the window: it survives only if the page is never reloaded.
    await page.evaluate(() => {
      (globalThis as unknown as BrowserGlobals).__noReload = true;
    });
    gates.open(task.task_uuid);
    await node(page, 'finish', 'complete').waitFor();
    await taskState(page, 'complete').waitFor();
    expect(await stripeFill(page, 'gate')).toBe('rgb(22, 163, 74)');
    expect(await page.evaluate(() => (globalThis as unknown as BrowserGlobals).__noReload)).toBe(true);
    await poll(() => page.locator('.timeline-row .bar-attempt').count()).toBe(3);
  });

  it('opens a failed step, reads its error, retries it and sees the task complete', async () => {
    chargeFixed = false;
    const task = await createTask(d, ns, 'payment');
    await page.goto(`${d.url}/ui/#/tasks/${task.task_uuid}`);
    await node(page, 'charge', 'error').waitFor();
    await node(page, 'charge').click();
    const panel = page.getByRole('complementary', { name: 'Step charge' });
    await poll(() => panel.getByTestId('step-error').first().textContent()).toContain(
      'card declined: insufficient funds',
    );
    await poll(() => panel.getByTestId('step-error').first().textContent()).toContain('DECLINED');
    await screenshot(page, 'step-failed');

    chargeFixed = true;
    await panel.getByRole('button', { name: 'Retry step' }).click();
    const dialog = page.getByRole('dialog', { name: 'Retry step: charge' });
    await poll(() => dialog.textContent()).toContain('goes back to pending with its attempts reset');
    await dialog.getByLabel('Reason').fill('card limit raised');
    await dialog.getByRole('button', { name: 'Retry step' }).click();
    await taskState(page, 'complete').waitFor();
    await node(page, 'ship', 'complete').waitFor();
    await poll(() => panel.getByTestId('audit-trail').textContent()).toContain(
      'reset for retry by admin — “card limit raised”',
    );
  });

  it('re-runs from a step: that step and those below it run again, the rest keep their results', async () => {
    chargeFixed = true;
    const task = await createTask(d, ns, 'payment');
    await page.goto(`${d.url}/ui/#/tasks/${task.task_uuid}`);
    await taskState(page, 'complete').waitFor();
    await node(page, 'charge').click();
    const panel = page.getByRole('complementary', { name: 'Step charge' });
    await panel.getByRole('button', { name: 'Re-run from here…' }).click();
    const dialog = page.getByRole('dialog', { name: 'Re-run from here: charge' });
    await poll(() => dialog.textContent()).toContain(
      'charge and 1 step below it (ship) go back to pending and run again. The other 1 step keeps its result.',
    );
    await dialog.getByLabel('Reason').fill('replay after the fix');
    await dialog.getByRole('button', { name: 'Re-run from here' }).click();
    await poll(() => runs.get(`${task.task_uuid}:ship`)).toBe(2);
    await taskState(page, 'complete').waitFor();
    await node(page, 'ship', 'complete').waitFor();
    expect(runs.get(`${task.task_uuid}:fetch`)).toBe(1);
    expect(runs.get(`${task.task_uuid}:charge`)).toBe(2);
    await poll(() => page.locator('.timeline-row[data-step="charge"] .bar-attempt').count()).toBe(2);
    await poll(() => panel.getByTestId('audit-trail').textContent()).toContain('rerun from by admin');
  });

  it('cancels a task', async () => {
    const task = await createTask(d, ns, 'live');
    await page.goto(`${d.url}/ui/#/tasks/${task.task_uuid}`);
    await node(page, 'gate', 'in_progress').waitFor();
    await screenshot(page, 'task');
    await page.getByRole('button', { name: 'Cancel task' }).click();
    const dialog = page.getByRole('dialog', { name: 'Cancel this task?' });
    await poll(() => dialog.textContent()).toContain('its 2 unfinished steps become cancelled');
    await dialog.getByLabel('Reason').fill('customer withdrew');
    await dialog.getByRole('button', { name: 'Cancel task' }).click();
    await taskState(page, 'cancelled').waitFor();
    await node(page, 'finish', 'cancelled').waitFor();
    expect((await d.request<TaskBody>('GET', `/v1/tasks/${task.task_uuid}`)).state).toBe('cancelled');
  });

  it('bulk-cancels every task matching a filter, saying how many first', async () => {
    const heldTasks = await Promise.all([1, 2, 3, 4].map(() => createTask(d, 'dash_bulk', 'held')));
    const bystander = await createTask(d, ns, 'live');
    await page.goto(`${d.url}/ui/#/tasks?namespace=dash_bulk`);
    await poll(() => page.locator('.task-row[data-task]').count()).toBe(4);
    await page.getByRole('button', { name: 'Cancel all matching…' }).click();
    const dialog = page.getByRole('dialog', { name: 'Cancel 4 tasks?' });
    await poll(() => dialog.textContent()).toContain('Cancel 4 tasks matching namespace "dash_bulk".');
    await dialog.getByLabel('Reason').fill('stuck batch');
    await dialog.getByRole('button', { name: 'Cancel 4 tasks' }).click();
    await page.getByRole('status').filter({ hasText: 'Cancelled 4 tasks.' }).waitFor();
    await poll(() => page.locator('.task-row[data-state="cancelled"]').count()).toBe(4);
    for (const t of heldTasks) {
      expect((await d.request<TaskBody>('GET', `/v1/tasks/${t.task_uuid}`)).state).toBe('cancelled');
    }
    expect((await d.request<TaskBody>('GET', `/v1/tasks/${bystander.task_uuid}`)).state).not.toBe(
      'cancelled',
    );
    gates.open(bystander.task_uuid);
  });
});
