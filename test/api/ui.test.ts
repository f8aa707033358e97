/**
 * The dashboard at `/ui`: static files from a build directory (a small fake one here), `index.html` for every
 * other path (client-side routing), caching, the Content-Security-Policy, no credentials for the page itself,
 * the 404 when nothing is built, and the switch. Also: a browser-style `fetch` with an Authorization header
 * reads a task's event stream.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { taskBody, UI_CONTENT_SECURITY_POLICY, type ApiServer } from '../../src/api/index.js';
import { registerTemplate } from '../../src/orchestration/template-registry.js';
import { defineTemplate } from '../../src/templates/index.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { bodyOf, expectError, startApi } from './helpers.js';

const ns = 'api_ui';
const template = defineTemplate({ namespace: ns, name: 'one', version: '1.0.0' })
  .step('only', { handler: 'noop' })
  .build();
const SECRET = 'a-test-secret-that-is-long-enough-for-hs256';
const INDEX =
  '<!doctype html><html><head><script type="module" src="/ui/assets/app-3f9a1c.js"></script></head></html>';
const APP_JS = 'console.log("dashboard");';
const auth = {
  enabled: true,
  api_keys: [{ name: 'admin', key: 'admin-key', permissions: ['*' as const] }],
  jwt_hs256_secret: SECRET,
};

describe('the dashboard at /ui', () => {
  let db: TestDatabase;
  let root: string;
  let api: ApiServer;

  beforeAll(async () => {
    db = await createTestDatabase();
    await registerTemplate(db.pool, template);
    root = await mkdtemp(join(tmpdir(), 'tasker-ui-'));
    await mkdir(join(root, 'assets'));
    await writeFile(join(root, 'index.html'), INDEX);
    await writeFile(join(root, 'assets', 'app-3f9a1c.js'), APP_JS);
    await writeFile(join(root, 'favicon.svg'), '<svg xmlns="http://www.w3.org/2000/svg"/>');
    await writeFile(join(root, '.env'), 'SECRET=1');
    api = await startApi(db, { orchestration: { api: { auth } } }, { uiRoot: root });
  });
  afterAll(async () => {
    await api?.close();
    await db?.drop();
    await rm(root, { recursive: true, force: true });
  });

  function expectShell(res: Awaited<ReturnType<ApiServer['app']['inject']>>): void {
    expect(res.statusCode, res.body).toBe(200);
    expect(res.body).toBe(INDEX);
    expect(res.headers['content-type']).toMatch(/^text\/html/);
    expect(res.headers['cache-control']).toBe('no-cache');
    expect(res.headers['content-security-policy']).toBe(UI_CONTENT_SECURITY_POLICY);
  }

  it('serves index.html at /ui and for every path that is not a file, without credentials', async () => {
    expect(api.dashboard).toBe('served');
    for (const url of [
      '/ui',
      '/ui/',
      '/ui/tasks',
      '/ui/tasks/0190a1b2-0000-7000-8000-000000000000?tab=dag',
    ]) {
      expectShell(await api.app.inject({ url }));
    }
    const head = await api.app.inject({ method: 'HEAD', url: '/ui/templates' });
    expect(head.statusCode).toBe(200);
    // The API itself still wants credentials.
    expectError(await api.app.inject({ url: '/v1/tasks' }), 401, 'UNAUTHENTICATED');
  });

  it('serves hashed assets with a long cache and other files with revalidation', async () => {
    const js = await api.app.inject({ url: '/ui/assets/app-3f9a1c.js' });
    expect(js.statusCode).toBe(200);
    expect(js.body).toBe(APP_JS);
    expect(js.headers['content-type']).toMatch(/javascript/);
    expect(js.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    expect(js.headers['content-security-policy']).toBe(UI_CONTENT_SECURITY_POLICY);
    expect(js.headers['x-content-type-options']).toBe('nosniff');
    const icon = await api.app.inject({ url: '/ui/favicon.svg' });
    expect(icon.statusCode).toBe(200);
    expect(icon.headers['content-type']).toMatch(/^image\/svg\+xml/);
    expect(icon.headers['cache-control']).toBe('no-cache');
  });

  it('a missing asset is a 404 (not the page); dotfiles and paths outside the build are never served', async () => {
    const missing = await api.app.inject({ url: '/ui/assets/app-000000.js' });
    expect(missing.statusCode).toBe(404);
    expect(missing.json<{ error: { code: string } }>().error.code).toBe('NOT_FOUND');
    for (const url of [
      '/ui/.env',
      '/ui/%2e%2e/package.json',
      '/ui/..%2f..%2fpackage.json',
      '/ui/assets/../.env',
    ]) {
      const res = await api.app.inject({ url });
      expect(res.body, url).not.toContain('SECRET=1');
      expect(res.body, url).not.toContain('"name": "tasker"');
    }
    expect((await api.app.inject({ method: 'POST', url: '/ui/tasks', payload: {} })).statusCode).toBe(404);
  });

  it('without a build, /ui answers 404 saying to run npm run build', async () => {
    const empty = await mkdtemp(join(tmpdir(), 'tasker-ui-empty-'));
    const bare = await startApi(db, {}, { uiRoot: join(empty, 'missing') });
    try {
      expect(bare.dashboard).toBe('not_built');
      for (const url of ['/ui', '/ui/', '/ui/tasks/1']) {
        const error = expectError(await bare.app.inject({ url }), 404, 'UI_NOT_BUILT');
        expect(error.message).toMatch(/npm run build/);
        expect(error.message).not.toContain(empty);
      }
    } finally {
      await bare.close();
      await rm(empty, { recursive: true, force: true });
    }
  });

  it('orchestration.api.ui.enabled = false: no dashboard routes at all', async () => {
    const off = await startApi(db, { orchestration: { api: { ui: { enabled: false } } } }, { uiRoot: root });
    try {
      expect(off.dashboard).toBe('disabled');
      expectError(await off.app.inject({ url: '/ui' }), 404, 'NOT_FOUND');
      expectError(await off.app.inject({ url: '/ui/assets/app-3f9a1c.js' }), 404, 'NOT_FOUND');
    } finally {
      await off.close();
    }
  });

  it('a browser-style fetch with an Authorization header reads a task event stream', async () => {
    const listening = await startApi(db, { orchestration: { api: { auth, host: '127.0.0.1', port: 0 } } });
    try {
      const { url } = await listening.listen();
      const created = await listening.app.inject({
        method: 'POST',
        url: '/v1/tasks',
        headers: { 'x-api-key': 'admin-key' },
        payload: { namespace: ns, name: 'one', context: {} },
      });
      const task = bodyOf(created, taskBody).task_uuid;
      await listening.app.inject({
        method: 'DELETE',
        url: `/v1/tasks/${task}`,
        headers: { 'x-api-key': 'admin-key' },
      });
      const token = await new SignJWT({ sub: 'browser', permissions: ['tasks:read'] })
        .setProtectedHeader({ alg: 'HS256' })
        .setExpirationTime('5m')
        .sign(new TextEncoder().encode(SECRET));
      const refused = await fetch(`${url}/v1/tasks/${task}/events`);
      expect(refused.status).toBe(401);
      await refused.text();
      const res = await fetch(`${url}/v1/tasks/${task}/events`, {
        headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream' },
      });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
      // The task is finished, so the stream ends after its trail and an `end` event.
      const text = await res.text();
      expect(text).toMatch(/event: transition\n/);
      expect(text).toMatch(/event: end\ndata: \{"state":"cancelled"\}/);
    } finally {
      await listening.close();
    }
  });
});
