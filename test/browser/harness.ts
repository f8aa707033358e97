/**
 * What the dashboard's browser tests share: the UI built once per content (cached by a hash of ui/), a real
 * engine and API server with auth on (an admin key and a read-only key), Debian's Chromium driven by
 * playwright-core, signing in, and screenshots for docs/dashboard/.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { expect } from 'vitest';
import { createApiServer, type ApiServer } from '../../src/api/index.js';
import type { DeepPartial, TaskerConfig } from '../../src/config/index.js';
import type { TaskTemplate } from '../../src/templates/types.js';
import type { HandlerDefinition } from '../../src/worker/handler.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { startEngine, testConfig, type Engine } from '../support/engine.js';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const CHROMIUM = process.env.TASKER_CHROMIUM ?? '/usr/bin/chromium';
/** True when the browser the tests drive is installed (CI installs it; see .ci/run). */
export const HAS_CHROMIUM = existsSync(CHROMIUM);

/**
 * The name of a browser suite. Without Chromium the suite is skipped, and both its name and a warning on the
 * console say why.
 */
export function suiteName(title: string): string {
  if (HAS_CHROMIUM) return `${title} in Chromium (${CHROMIUM})`;
  const why = `${title}: SKIPPED, chromium not installed at ${CHROMIUM} (apt-get install chromium; CI installs it)`;
  console.warn(why);
  return why;
}

export const ADMIN_KEY = 'test-admin-key-0123456789';
export const READER_KEY = 'test-reader-key-0123456789';
export const READ_PERMISSIONS = ['tasks:read', 'steps:read', 'templates:read', 'dlq:read', 'system:read'];
/** HS256 secret the server verifies JWTs with. */
export const JWT_SECRET = 'test-jwt-secret-0123456789abcdef0123456789';

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? filesUnder(join(dir, e.name)) : [join(dir, e.name)],
  );
}

/**
 * Builds the dashboard with Vite into a cache directory named by a hash of its sources (ui/ without tests, and
 * the lockfile), so the files the tests serve are always the current sources, built once per change. The
 * build goes to a temporary directory first and is renamed into place, so concurrent test files never see half
 * a build. Returns the directory to serve.
 */
export async function buildDashboard(): Promise<string> {
  const hash = createHash('sha256');
  const sources = filesUnder(join(ROOT, 'ui'))
    .filter((f) => !f.includes(`${join(ROOT, 'ui', 'test')}`))
    .sort();
  for (const file of [...sources, join(ROOT, 'package-lock.json')]) {
    hash.update(file.slice(ROOT.length)).update('\0').update(readFileSync(file));
  }
  const cache = join(ROOT, 'node_modules', '.cache', 'tasker-dashboard');
  const out = join(cache, hash.digest('hex').slice(0, 16));
  if (existsSync(join(out, 'index.html'))) return out;
  const tmp = `${out}.tmp-${process.pid}`;
  mkdirSync(cache, { recursive: true });
  const { build } = await import('vite');
  await build({
    configFile: join(ROOT, 'ui', 'vite.config.ts'),
    logLevel: 'warn',
    build: { outDir: tmp, emptyOutDir: true },
  });
  try {
    renameSync(tmp, out);
  } catch (e) {
    // Another test file finished the same build first: use theirs.
    rmSync(tmp, { recursive: true, force: true });
    if (!existsSync(join(out, 'index.html'))) throw e;
  }
  return out;
}

/** A running engine, API server (serving the dashboard) and browser. */
export interface Dashboard {
  url: string;
  db: TestDatabase;
  engine: Engine;
  api: ApiServer;
  browser: Browser;
  /** A new browser context (its own sessionStorage) with a light, 1440×900 page. */
  newPage(): Promise<{ context: BrowserContext; page: Page }>;
  /** Calls the API as the admin. */
  request<T>(method: string, path: string, body?: unknown): Promise<T>;
  stop(): Promise<void>;
}

export interface DashboardOptions {
  templates: TaskTemplate[];
  handlers: HandlerDefinition[];
  overrides?: DeepPartial<TaskerConfig>;
}

/** Starts the engine, the API server with auth on and the dashboard at /ui, and Chromium. */
export async function startDashboard(options: DashboardOptions): Promise<Dashboard> {
  const uiRoot = await buildDashboard();
  const db = await createTestDatabase();
  const auth = {
    enabled: true,
    api_keys: [
      { name: 'admin', key: ADMIN_KEY, permissions: ['*' as const] },
      { name: 'viewer', key: READER_KEY, permissions: READ_PERMISSIONS as never[] },
    ],
    jwt_hs256_secret: JWT_SECRET,
  };
  const overrides: DeepPartial<TaskerConfig> = {
    ...options.overrides,
    orchestration: { ...options.overrides?.orchestration, api: { host: '127.0.0.1', port: 0, auth } },
    // Gated handlers wait for the test (or their cancellation): longer than the test environment's 5 s limit.
    worker: { handler_timeout_ms: 120_000, ...options.overrides?.worker },
  };
  const engine = await startEngine(db, {
    templates: options.templates,
    handlers: options.handlers,
    overrides,
  });
  const api = await createApiServer({
    config: testConfig(db.url, overrides),
    pool: db.pool,
    taskMetrics: engine.orchestrator.metrics,
    uiRoot,
  });
  const { url } = await api.listen();
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
    ],
  });
  const request = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
    const res = await fetch(`${url}${path}`, {
      method,
      headers: {
        'x-api-key': ADMIN_KEY,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
    return JSON.parse(text) as T;
  };
  return {
    url,
    db,
    engine,
    api,
    browser,
    request,
    async newPage() {
      const context = await browser.newContext({
        viewport: { width: 1440, height: 900 },
        colorScheme: 'light',
      });
      const page = await context.newPage();
      page.setDefaultTimeout(20_000);
      return { context, page };
    },
    async stop() {
      await browser.close();
      await api.close();
      await engine.stop();
      await db.drop();
    },
  };
}

/** Opens the dashboard and signs in with `key`; resolves once the navigation shows who is signed in. */
export async function signIn(page: Page, baseUrl: string, key: string, hash = '#/'): Promise<void> {
  await page.goto(`${baseUrl}/ui/${hash}`);
  await page.getByLabel('API key or JWT').fill(key);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.locator('.whoami').waitFor();
}

/**
 * Where screenshots go: docs/dashboard/ (committed, shown in docs/dashboard.md) when TASKER_SCREENSHOTS_TO_DOCS=1
 * (`npm run docs:screenshots`); otherwise a scratch folder, so a test run leaves the working tree as it was.
 */
const SCREENSHOT_DIR =
  process.env.TASKER_SCREENSHOTS_TO_DOCS === '1'
    ? join(ROOT, 'docs', 'dashboard')
    : join(tmpdir(), 'tasker-dashboard-screenshots');

/** Takes a screenshot of the page (for docs/dashboard.md: see {@link SCREENSHOT_DIR}). */
export async function screenshot(page: Page, name: string): Promise<void> {
  const dir = SCREENSHOT_DIR;
  mkdirSync(dir, { recursive: true });
  // Animations (the pulse of running steps) are frozen so a picture never catches a half-faded node.
  await page.screenshot({ path: join(dir, `${name}.png`), animations: 'disabled' });
  if (statSync(join(dir, `${name}.png`)).size === 0) throw new Error(`empty screenshot ${name}`);
}

/** A gate a handler waits on until the test opens it, one per key (e.g. per task). */
export class Gates {
  readonly #gates = new Map<string, { promise: Promise<void>; open: () => void }>();

  #gate(key: string): { promise: Promise<void>; open: () => void } {
    let gate = this.#gates.get(key);
    if (!gate) {
      let open!: () => void;
      const promise = new Promise<void>((resolve) => {
        open = resolve;
      });
      gate = { promise, open };
      this.#gates.set(key, gate);
    }
    return gate;
  }

  /** Resolves when `key` is opened, or rejects when `signal` aborts (a cancelled task's handler stops). */
  wait(key: string, signal: AbortSignal): Promise<void> {
    const gate = this.#gate(key);
    return new Promise((resolve, reject) => {
      signal.addEventListener('abort', () => reject(new Error('aborted')), { once: true });
      gate.promise.then(resolve, reject);
    });
  }

  open(key: string): void {
    this.#gate(key).open();
  }
}

/**
 * `expect.poll` with the patience of a browser test (20 s, like the locators'), for values read from the page or
 * the API that reach their state when the engine and the page have caught up.
 */
export const poll: typeof expect.poll = (read, options) =>
  expect.poll(read, { timeout: 20_000, interval: 50, ...options });
