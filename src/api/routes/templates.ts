/** Template routes: list, read, validate and register templates. */
import { z } from 'zod';
import { getTemplate, listTemplates } from '../../orchestration/operations.js';
import { registerTemplate } from '../../orchestration/template-registry.js';
import { parseYamlTemplate } from '../../templates/index.js';
import { defineRoute, type ApiContext, type ApiRoute } from '../route.js';
import {
  errorBody,
  templateDetailBody as templateDetailSchema,
  templateListBody,
  templateParams,
  templateQuery,
  templateRegistrationBody,
  templateSourceBody,
  templateValidationBody,
  type TemplateDetailBody,
} from '../schemas.js';
import { templateDefinitionBody, templateStepBody, templateSummaryBody } from '../views.js';

const listQuery = z.strictObject({
  namespace: z.string().min(1).optional().describe('Only templates of this namespace.'),
});

const invalid = {
  status: 422,
  description:
    'The template is invalid (`TEMPLATE_INVALID`); `details.issues` lists every problem with its line.',
  schema: errorBody,
};

async function detail(
  ctx: ApiContext,
  namespace: string,
  name: string,
  version?: string,
): Promise<TemplateDetailBody> {
  const t = await getTemplate(ctx.pool, namespace, name, version);
  return {
    ...templateSummaryBody(t),
    steps: t.definition.steps.map(templateStepBody),
    dag: t.dag,
  };
}

/** The template routes. */
export function templateRoutes(ctx: ApiContext): ApiRoute[] {
  return [
    defineRoute({
      method: 'GET',
      url: '/v1/templates',
      operationId: 'listTemplates',
      summary: 'Every registered template version.',
      tag: 'templates',
      permission: 'templates:read',
      query: listQuery,
      responses: [{ status: 200, description: 'The templates.', schema: templateListBody }],
      async handle({ query }) {
        const all = await listTemplates(ctx.pool);
        const items = query.namespace ? all.filter((t) => t.namespace === query.namespace) : all;
        return { items: items.map(templateSummaryBody) };
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/v1/templates/:namespace/:name',
      operationId: 'getTemplate',
      summary: 'A registered template with its steps and dependency graph.',
      tag: 'templates',
      permission: 'templates:read',
      params: templateParams,
      query: templateQuery,
      responses: [
        { status: 200, description: 'The template.', schema: templateDetailSchema },
        {
          status: 404,
          description: 'No such template or version (`TEMPLATE_NOT_FOUND`).',
          schema: errorBody,
        },
      ],
      async handle({ params, query }) {
        return detail(ctx, params.namespace, params.name, query.version);
      },
    }),
    defineRoute({
      method: 'POST',
      url: '/v1/templates/validate',
      operationId: 'validateTemplate',
      summary: 'Validate a YAML template without registering it.',
      tag: 'templates',
      permission: 'templates:read',
      body: { kind: 'template-source', schema: templateSourceBody },
      responses: [
        { status: 200, description: 'The template is valid.', schema: templateValidationBody },
        invalid,
      ],
      handle({ body }) {
        const template = parseYamlTemplate(body.yaml);
        return Promise.resolve({ valid: true as const, template: templateDefinitionBody(template) });
      },
    }),
    defineRoute({
      method: 'POST',
      url: '/v1/templates',
      operationId: 'registerTemplate',
      summary: 'Register a YAML template version.',
      description:
        'A version is immutable: registering identical content again returns 200, different content under an ' +
        'existing version is refused with 409 `TEMPLATE_CONFLICT`.',
      tag: 'templates',
      permission: 'templates:write',
      body: { kind: 'template-source', schema: templateSourceBody },
      responses: [
        { status: 201, description: 'Registered.', schema: templateRegistrationBody },
        {
          status: 200,
          description: 'Already registered with the same content.',
          schema: templateRegistrationBody,
        },
        invalid,
        {
          status: 409,
          description: 'The version exists with different content (`TEMPLATE_CONFLICT`).',
          schema: errorBody,
        },
      ],
      async handle({ body, reply }) {
        const template = parseYamlTemplate(body.yaml);
        const registered = await registerTemplate(ctx.pool, template, {
          maxDecisionDepth: ctx.config.orchestration.decision_points.max_depth,
        });
        reply.code(registered.created ? 201 : 200);
        reply.header(
          'location',
          `/v1/templates/${encodeURIComponent(template.namespace)}/${encodeURIComponent(template.name)}?version=${encodeURIComponent(template.version)}`,
        );
        return {
          created: registered.created,
          template: await detail(ctx, template.namespace, template.name, template.version),
        };
      },
    }),
  ];
}
