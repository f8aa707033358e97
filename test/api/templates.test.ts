import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  templateDetailBody,
  templateListBody,
  templateRegistrationBody,
  templateValidationBody,
  type ApiServer,
} from '../../src/api/index.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { bodyOf, expectError, startApi } from './helpers.js';

const ns = 'api_templates';
const diamondYaml = (version: string, extra = ''): string => `
name: diamond
namespace_name: ${ns}
version: ${version}
description: a diamond
identity_strategy: strict
steps:
  - name: top
    handler: { callable: t.top, initialization: { gateway: demo } }
    retry: { max_attempts: 3, backoff_base_ms: 100, max_backoff_ms: 1000 }
  - name: left
    depends_on: [top]
    handler: { callable: t.left }
  - name: right
    depends_on: [top]
    handler: { callable: t.right${extra} }
  - name: bottom
    depends_on: [left, right]
    handler: { callable: t.bottom }
`;

const invalidYaml = `
name: broken
namespace_name: ${ns}
version: 1.0.0
steps:
  - name: a
    depends_on: [b]
    handler: { callable: x }
  - name: b
    depends_on: [a]
    handler: { callable: x }
  - name: c
    depends_on: [missing]
    handler: { callable: x }
`;

describe('template routes', () => {
  let db: TestDatabase;
  let api: ApiServer;

  beforeAll(async () => {
    db = await createTestDatabase();
    api = await startApi(db);
  });

  afterAll(async () => {
    await api?.close();
    await db?.drop();
  });

  const post = (url: string, payload: string | object, type?: string) =>
    api.app.inject({
      method: 'POST',
      url,
      payload,
      ...(type ? { headers: { 'content-type': type } } : {}),
    });

  describe('POST /v1/templates/validate', () => {
    it.each(['text/yaml', 'application/yaml', 'text/plain', 'text/yaml; charset=utf-8'])(
      'accepts YAML as %s',
      async (type) => {
        const res = await post('/v1/templates/validate', diamondYaml('1.0.0'), type);
        const body = bodyOf(res, templateValidationBody);
        expect(body.valid).toBe(true);
        expect(body.template).toMatchObject({ namespace: ns, name: 'diamond', identity_strategy: 'strict' });
        expect(body.template.dag.nodes).toEqual(['top', 'left', 'right', 'bottom']);
        expect(body.template.dag.edges).toEqual([
          ['top', 'left'],
          ['top', 'right'],
          ['left', 'bottom'],
          ['right', 'bottom'],
        ]);
        expect(body.template.steps[0]).toMatchObject({
          handler: 't.top',
          inputs: { gateway: 'demo' },
          retry: { max_attempts: 3, backoff_base_ms: 100, max_backoff_ms: 1000 },
        });
      },
    );

    it('accepts JSON { yaml }', async () => {
      const res = await post('/v1/templates/validate', { yaml: diamondYaml('1.0.0') });
      expect(bodyOf(res, templateValidationBody).template.name).toBe('diamond');
    });

    it('reports every problem with its path and line as 422 TEMPLATE_INVALID', async () => {
      const error = expectError(
        await post('/v1/templates/validate', invalidYaml, 'text/yaml'),
        422,
        'TEMPLATE_INVALID',
      );
      const issues = error.details?.issues as { path: string; message: string; line?: number }[];
      expect(issues.length).toBeGreaterThanOrEqual(2);
      expect(issues.some((i) => /cycle/i.test(i.message))).toBe(true);
      expect(issues.some((i) => i.message.includes('missing'))).toBe(true);
      expect(issues.every((i) => typeof i.path === 'string' && typeof i.line === 'number')).toBe(true);
    });

    it('malformed YAML is 422 with the line', async () => {
      const error = expectError(
        await post('/v1/templates/validate', 'name: [unclosed\nversion: 1', 'text/yaml'),
        422,
        'TEMPLATE_INVALID',
      );
      const issues = error.details?.issues as { line?: number }[];
      expect(issues[0]?.line).toBeTypeOf('number');
    });

    it('bad JSON shapes are 400, other media types 415', async () => {
      expectError(await post('/v1/templates/validate', { yml: 'x' }), 400, 'VALIDATION_FAILED');
      expectError(await post('/v1/templates/validate', { yaml: 42 }), 400, 'VALIDATION_FAILED');
      expectError(
        await post('/v1/templates/validate', '<xml/>', 'application/xml'),
        415,
        'UNSUPPORTED_MEDIA_TYPE',
      );
      expectError(await post('/v1/templates/validate', '{"yaml": ', 'application/json'), 400, 'INVALID_JSON');
    });
  });

  describe('registration and reads', () => {
    it('registers (201), re-registers identically (200), refuses changed content (409)', async () => {
      const first = await post('/v1/templates', diamondYaml('1.0.0'), 'text/yaml');
      expect(first.statusCode, first.body).toBe(201);
      const registered = bodyOf(first, templateRegistrationBody);
      expect(registered.created).toBe(true);
      expect(registered.template).toMatchObject({
        namespace: ns,
        name: 'diamond',
        version: '1.0.0',
        step_count: 4,
      });

      const again = await post('/v1/templates', { yaml: diamondYaml('1.0.0') });
      expect(again.statusCode).toBe(200);
      expect(bodyOf(again, templateRegistrationBody)).toMatchObject({
        created: false,
        template: { template_uuid: registered.template.template_uuid },
      });

      expectError(
        await post('/v1/templates', diamondYaml('1.0.0', '_v2'), 'text/yaml'),
        409,
        'TEMPLATE_CONFLICT',
      );
      expectError(await post('/v1/templates', invalidYaml, 'text/yaml'), 422, 'TEMPLATE_INVALID');
    });

    it('lists templates and reads one with its DAG, by version or the highest', async () => {
      expect((await post('/v1/templates', diamondYaml('1.1.0'), 'text/yaml')).statusCode).toBe(201);
      const list = bodyOf(await api.app.inject({ url: '/v1/templates' }), templateListBody);
      expect(
        list.items
          .filter((t) => t.namespace === ns)
          .map((t) => t.version)
          .sort(),
      ).toEqual(['1.0.0', '1.1.0']);
      const filtered = bodyOf(
        await api.app.inject({ url: `/v1/templates?namespace=nope` }),
        templateListBody,
      );
      expect(filtered.items).toEqual([]);

      const latest = bodyOf(await api.app.inject({ url: `/v1/templates/${ns}/diamond` }), templateDetailBody);
      expect(latest.version).toBe('1.1.0');
      expect(latest.identity_strategy).toBe('strict');
      expect(latest.dag.edges).toContainEqual(['left', 'bottom']);
      expect(latest.steps.map((s) => s.name)).toHaveLength(4);

      const pinned = bodyOf(
        await api.app.inject({ url: `/v1/templates/${ns}/diamond?version=1.0.0` }),
        templateDetailBody,
      );
      expect(pinned.version).toBe('1.0.0');

      expectError(await api.app.inject({ url: `/v1/templates/${ns}/nope` }), 404, 'TEMPLATE_NOT_FOUND');
      expectError(
        await api.app.inject({ url: `/v1/templates/${ns}/diamond?version=9.0.0` }),
        404,
        'TEMPLATE_NOT_FOUND',
      );
      expectError(await api.app.inject({ url: `/v1/templates/${ns}/diamond?v=1` }), 400, 'VALIDATION_FAILED');
    });
  });
});
