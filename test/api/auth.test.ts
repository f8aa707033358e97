import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, exportSPKI, generateKeyPair, SignJWT, type JWTPayload } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stepBody, taskBody, transitionListBody, type ApiServer } from '../../src/api/index.js';
import { API_PERMISSIONS } from '../../src/config/schema.js';
import { registerTemplate } from '../../src/orchestration/template-registry.js';
import { defineTemplate } from '../../src/templates/index.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { bodyOf, expectError, startApi } from './helpers.js';

const ns = 'api_auth';
const template = defineTemplate({ namespace: ns, name: 'one', version: '1.0.0' })
  .step('only', { handler: 'noop' })
  .build();

const HS_SECRET = 'a-test-secret-that-is-long-enough-for-hs256';
const ISSUER = 'tasker-test';
const AUDIENCE = 'tasker-api';

/** The permission each route must require (the brief's table, independent of the route definitions). */
const EXPECTED_PERMISSIONS: Record<string, string | null> = {
  'POST /v1/tasks': 'tasks:create',
  'GET /v1/tasks': 'tasks:read',
  'GET /v1/tasks/:task_uuid': 'tasks:read',
  // The action decides: tasks:cancel for cancel, steps:resolve for retry_failed (checked after the body).
  'POST /v1/tasks/bulk': 'authenticated',
  'DELETE /v1/tasks/:task_uuid': 'tasks:cancel',
  'GET /v1/tasks/:task_uuid/transitions': 'tasks:read',
  'GET /v1/tasks/:task_uuid/events': 'tasks:read',
  'GET /v1/tasks/:task_uuid/steps': 'steps:read',
  'GET /v1/tasks/:task_uuid/steps/:step_uuid': 'steps:read',
  'GET /v1/tasks/:task_uuid/steps/:step_uuid/transitions': 'steps:read',
  'PATCH /v1/tasks/:task_uuid/steps/:step_uuid': 'steps:resolve',
  'GET /v1/templates': 'templates:read',
  'GET /v1/templates/:namespace/:name': 'templates:read',
  'POST /v1/templates/validate': 'templates:read',
  'POST /v1/templates': 'templates:write',
  'GET /v1/dlq': 'dlq:read',
  'GET /v1/dlq/:dlq_entry_uuid': 'dlq:read',
  'PATCH /v1/dlq/:dlq_entry_uuid': 'dlq:update',
  'GET /v1/whoami': 'authenticated',
  'GET /v1/overview': 'tasks:read',
  'GET /v1/templates/:namespace/:name/runs': 'tasks:read',
  'GET /health': 'system:read',
  'GET /metrics': 'system:read',
  'GET /openapi.json': 'authenticated',
  'GET /health/live': null,
  'GET /health/ready': null,
};

function concrete(url: string): string {
  return url
    .replace(/:(task_uuid|step_uuid|dlq_entry_uuid)/g, () => randomUUID())
    .replace(':namespace', 'nope')
    .replace(':name', 'nope');
}

async function hsToken(payload: JWTPayload, options: { secret?: string; exp?: string | number | null } = {}) {
  let jwt = new SignJWT(payload)
    .setProtectedHeader({ alg: 'HS256' })
    .setIssuedAt()
    .setIssuer(ISSUER)
    .setAudience(AUDIENCE);
  if (options.exp !== null) jwt = jwt.setExpirationTime(options.exp ?? '5m');
  return jwt.sign(new TextEncoder().encode(options.secret ?? HS_SECRET));
}

describe('authentication and authorization', () => {
  let db: TestDatabase;
  let api: ApiServer;
  let jwksApi: ApiServer;
  let jwksServer: Server;
  let rsPrivate: CryptoKey;
  let jwksPrivate: CryptoKey;
  let strangerPrivate: CryptoKey;

  beforeAll(async () => {
    db = await createTestDatabase();
    await registerTemplate(db.pool, template);
    const rs = await generateKeyPair('RS256', { extractable: true });
    rsPrivate = rs.privateKey;
    const jwks = await generateKeyPair('RS256', { extractable: true });
    jwksPrivate = jwks.privateKey;
    strangerPrivate = (await generateKeyPair('RS256')).privateKey;

    const publicJwk = { ...(await exportJWK(jwks.publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
    jwksServer = createServer((req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ keys: [publicJwk] }));
    });
    await new Promise<void>((resolve) => jwksServer.listen(0, '127.0.0.1', resolve));
    const jwksUrl = `http://127.0.0.1:${(jwksServer.address() as AddressInfo).port}/.well-known/jwks.json`;

    api = await startApi(db, {
      orchestration: {
        api: {
          auth: {
            enabled: true,
            api_keys: [
              { name: 'admin', key: 'admin-key', permissions: ['*'] },
              // An entry whose key is empty (an unset variable) must never match.
              { name: 'unset', key: '', permissions: ['*'] },
              ...API_PERMISSIONS.map((p) => ({ name: `only-${p}`, key: `key-${p}`, permissions: [p] })),
            ],
            jwt_hs256_secret: HS_SECRET,
            jwt_rs256_public_key: await exportSPKI(rs.publicKey),
            jwt_jwks_url: '',
            jwt_issuer: ISSUER,
            jwt_audience: AUDIENCE,
            jwt_permissions_claim: 'permissions',
          },
        },
      },
    });
    jwksApi = await startApi(db, {
      orchestration: {
        api: {
          auth: {
            enabled: true,
            api_keys: [],
            jwt_hs256_secret: '',
            jwt_rs256_public_key: '',
            jwt_jwks_url: jwksUrl,
            jwt_issuer: '',
            jwt_audience: '',
            jwt_permissions_claim: 'scope',
          },
        },
      },
    });
  });

  afterAll(async () => {
    await api?.close();
    await jwksApi?.close();
    await new Promise((resolve) => jwksServer?.close(resolve));
    await db?.drop();
  });

  it('every route requires exactly the documented permission', () => {
    const actual = Object.fromEntries(api.routes.map((r) => [`${r.method} ${r.url}`, r.permission]));
    expect(actual).toEqual(EXPECTED_PERMISSIONS);
  });

  it('health/live and health/ready stay open; everything else needs credentials', async () => {
    expect((await api.app.inject({ url: '/health/live' })).statusCode).toBe(200);
    expect((await api.app.inject({ url: '/health/ready' })).statusCode).toBe(200);
    for (const route of api.routes.filter((r) => r.permission !== null)) {
      const res = await api.app.inject({ method: route.method, url: concrete(route.url) });
      expectError(res, 401, 'UNAUTHENTICATED');
      expect(res.headers['www-authenticate']).toContain('Bearer');
    }
  });

  it('a key grants its permission and nothing else (403 FORBIDDEN)', async () => {
    for (const route of api.routes.filter((r) => r.permission !== null)) {
      const url = concrete(route.url);
      const payload = route.method === 'POST' || route.method === 'PATCH' ? {} : undefined;
      for (const permission of API_PERMISSIONS) {
        const res = await api.app.inject({
          method: route.method,
          url,
          headers: { 'x-api-key': `key-${permission}` },
          ...(payload ? { payload } : {}),
        });
        const label = `${route.method} ${route.url} with ${permission}: ${res.body}`;
        if (route.permission === permission || route.permission === 'authenticated') {
          expect([401, 403], label).not.toContain(res.statusCode);
        } else {
          expect(res.statusCode, label).toBe(403);
          expect(res.json<{ error: { code: string } }>().error.code).toBe('FORBIDDEN');
        }
      }
    }
  });

  it('refuses wrong, empty and repeated-unset keys with 401', async () => {
    for (const key of ['wrong', '', 'admin-key ', 'ADMIN-KEY']) {
      expectError(
        await api.app.inject({ url: '/v1/tasks', headers: { 'x-api-key': key } }),
        401,
        'UNAUTHENTICATED',
      );
    }
    const ok = await api.app.inject({ url: '/v1/tasks', headers: { 'x-api-key': 'admin-key' } });
    expect(ok.statusCode).toBe(200);
  });

  it('auth is checked before the body is read', async () => {
    const res = await api.app.inject({
      method: 'POST',
      url: '/v1/tasks',
      headers: { 'content-type': 'application/json' },
      payload: '{not json',
    });
    expectError(res, 401, 'UNAUTHENTICATED');
  });

  describe('HS256 bearer tokens', () => {
    it('accepts a valid token with its permissions', async () => {
      const token = await hsToken({ sub: 'svc', permissions: ['tasks:read'] });
      const res = await api.app.inject({ url: '/v1/tasks', headers: { authorization: `Bearer ${token}` } });
      expect(res.statusCode, res.body).toBe(200);
      const denied = await api.app.inject({ url: '/v1/dlq', headers: { authorization: `Bearer ${token}` } });
      expectError(denied, 403, 'FORBIDDEN');
    });

    it('refuses expired, wrongly signed, mis-addressed and exp-less tokens with 401', async () => {
      const cases: [string, string][] = [
        ['expired', await hsToken({ permissions: ['*'] }, { exp: Math.floor(Date.now() / 1000) - 60 })],
        [
          'wrong secret',
          await hsToken({ permissions: ['*'] }, { secret: 'another-secret-another-secret-123' }),
        ],
        ['no exp', await hsToken({ permissions: ['*'] }, { exp: null })],
        [
          'wrong issuer',
          await new SignJWT({ permissions: ['*'] })
            .setProtectedHeader({ alg: 'HS256' })
            .setIssuer('someone-else')
            .setAudience(AUDIENCE)
            .setExpirationTime('5m')
            .sign(new TextEncoder().encode(HS_SECRET)),
        ],
        [
          'wrong audience',
          await new SignJWT({ permissions: ['*'] })
            .setProtectedHeader({ alg: 'HS256' })
            .setIssuer(ISSUER)
            .setAudience('other-api')
            .setExpirationTime('5m')
            .sign(new TextEncoder().encode(HS_SECRET)),
        ],
        ['garbage', 'not.a.jwt'],
        [
          'alg none',
          `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from('{"permissions":["*"]}').toString('base64url')}.`,
        ],
      ];
      for (const [label, token] of cases) {
        const res = await api.app.inject({ url: '/v1/tasks', headers: { authorization: `Bearer ${token}` } });
        expect(res.statusCode, `${label}: ${res.body}`).toBe(401);
        if (label === 'expired') {
          expect(res.json<{ error: { message: string } }>().error.message).toMatch(/expired/);
        }
      }
      expectError(
        await api.app.inject({ url: '/v1/tasks', headers: { authorization: 'Basic dXNlcjpwYXNz' } }),
        401,
        'UNAUTHENTICATED',
      );
    });

    it('a token without the permissions claim authenticates but is not authorized', async () => {
      const token = await hsToken({ sub: 'nobody' });
      expectError(
        await api.app.inject({ url: '/v1/tasks', headers: { authorization: `Bearer ${token}` } }),
        403,
        'FORBIDDEN',
      );
      // Any valid credentials may read the API description.
      const doc = await api.app.inject({
        url: '/openapi.json',
        headers: { authorization: `Bearer ${token}` },
      });
      expect(doc.statusCode).toBe(200);
    });

    it("operator actions default `by` to the principal's name", async () => {
      const admin = { 'x-api-key': 'admin-key' };
      const created = await api.app.inject({
        method: 'POST',
        url: '/v1/tasks',
        headers: admin,
        payload: { namespace: ns, name: 'one', context: {} },
      });
      const task = bodyOf(created, taskBody);
      const step = task.steps[0]!;
      const token = await hsToken({ sub: 'alice', permissions: ['steps:resolve', 'steps:read'] });
      const res = await api.app.inject({
        method: 'PATCH',
        url: `/v1/tasks/${task.task_uuid}/steps/${step.step_uuid}`,
        headers: { authorization: `Bearer ${token}` },
        payload: { action_type: 'resolve_manually', reason: 'not needed' },
      });
      expect(bodyOf(res, stepBody).state).toBe('resolved_manually');
      const trail = bodyOf(
        await api.app.inject({
          url: `/v1/tasks/${task.task_uuid}/steps/${step.step_uuid}/transitions`,
          headers: { authorization: `Bearer ${token}` },
        }),
        transitionListBody,
      );
      expect(trail.items.at(-1)?.metadata).toMatchObject({ by: 'alice', reason: 'not needed' });
    });
  });

  describe('RS256 bearer tokens', () => {
    it('accepts a token signed with the configured PEM key', async () => {
      const token = await new SignJWT({ permissions: ['tasks:read'] })
        .setProtectedHeader({ alg: 'RS256' })
        .setIssuer(ISSUER)
        .setAudience(AUDIENCE)
        .setExpirationTime('5m')
        .sign(rsPrivate);
      const res = await api.app.inject({ url: '/v1/tasks', headers: { authorization: `Bearer ${token}` } });
      expect(res.statusCode, res.body).toBe(200);
    });

    it('refuses a token signed with another key', async () => {
      const token = await new SignJWT({ permissions: ['*'] })
        .setProtectedHeader({ alg: 'RS256' })
        .setIssuer(ISSUER)
        .setAudience(AUDIENCE)
        .setExpirationTime('5m')
        .sign(strangerPrivate);
      expectError(
        await api.app.inject({ url: '/v1/tasks', headers: { authorization: `Bearer ${token}` } }),
        401,
        'UNAUTHENTICATED',
      );
    });

    it('verifies tokens against a JWKS endpoint; permissions may be a space-separated claim', async () => {
      const sign = (key: CryptoKey, kid: string) =>
        new SignJWT({ scope: 'tasks:read dlq:read' })
          .setProtectedHeader({ alg: 'RS256', kid })
          .setSubject('jwks-user')
          .setExpirationTime('5m')
          .sign(key);
      const good = await sign(jwksPrivate, 'k1');
      const res = await jwksApi.app.inject({ url: '/v1/dlq', headers: { authorization: `Bearer ${good}` } });
      expect(res.statusCode, res.body).toBe(200);
      expectError(
        await jwksApi.app.inject({ url: '/v1/templates', headers: { authorization: `Bearer ${good}` } }),
        403,
        'FORBIDDEN',
      );
      for (const bad of [await sign(strangerPrivate, 'k1'), await sign(strangerPrivate, 'unknown')]) {
        expectError(
          await jwksApi.app.inject({ url: '/v1/dlq', headers: { authorization: `Bearer ${bad}` } }),
          401,
          'UNAUTHENTICATED',
        );
      }
      // HS256 is not configured on this server.
      expectError(
        await jwksApi.app.inject({
          url: '/v1/dlq',
          headers: { authorization: `Bearer ${await hsToken({ permissions: ['*'] })}` },
        }),
        401,
        'UNAUTHENTICATED',
      );
      // Nor are API keys.
      expectError(
        await jwksApi.app.inject({ url: '/v1/dlq', headers: { 'x-api-key': 'admin-key' } }),
        401,
        'UNAUTHENTICATED',
      );
    });
  });
});
