/**
 * Wire schemas of templates: listings, definitions with their DAG, validation and registration.
 */
import { z } from 'zod';
import { IDENTITY_STRATEGIES } from '../templates/types.js';
import { jsonObject, timestamp, uuid } from './schemas-common.js';

/** How repeated task requests are deduplicated (see the template `identity_strategy`). */
export const identityStrategy = z.enum(IDENTITY_STRATEGIES);
export type IdentityStrategy = z.infer<typeof identityStrategy>;

/** A registered template in a listing. */
export const templateSummaryBody = z
  .object({
    template_uuid: uuid,
    namespace: z.string(),
    name: z.string(),
    version: z.string(),
    description: z.string().nullable(),
    identity_strategy: identityStrategy,
    step_count: z.number().int(),
    created_at: timestamp,
  })
  .meta({ id: 'TemplateSummary' });
export type TemplateSummaryBody = z.infer<typeof templateSummaryBody>;

export const templateListBody = z
  .object({ items: z.array(templateSummaryBody) })
  .meta({ id: 'TemplateList' });
export type TemplateListBody = z.infer<typeof templateListBody>;

/** A step of a template definition, every default resolved. */
export const templateStepBody = z
  .object({
    name: z.string(),
    description: z.string().nullable(),
    handler: z.string(),
    type: z.string(),
    depends_on: z.array(z.string()),
    retry: z.object({
      retryable: z.boolean(),
      max_attempts: z.number().int(),
      backoff_base_ms: z.number(),
      backoff_multiplier: z.number(),
      max_backoff_ms: z.number(),
      jitter: z.number(),
    }),
    timeout_ms: z.number().int().nullable(),
    inputs: jsonObject,
  })
  .meta({ id: 'TemplateStep' });
export type TemplateStepBody = z.infer<typeof templateStepBody>;

/** The dependency graph of a template: step names and `[from, to]` edges (from must finish before to). */
export const dagBody = z
  .object({ nodes: z.array(z.string()), edges: z.array(z.tuple([z.string(), z.string()])) })
  .meta({ id: 'Dag' });
export type DagBody = z.infer<typeof dagBody>;

/** A validated template definition (not necessarily registered). */
export const templateDefinitionBody = z
  .object({
    namespace: z.string(),
    name: z.string(),
    version: z.string(),
    description: z.string().nullable(),
    identity_strategy: identityStrategy,
    steps: z.array(templateStepBody),
    dag: dagBody,
  })
  .meta({ id: 'TemplateDefinition' });
export type TemplateDefinitionBody = z.infer<typeof templateDefinitionBody>;

/** A registered template with its steps and graph. */
export const templateDetailBody = templateSummaryBody
  .extend({ steps: z.array(templateStepBody), dag: dagBody })
  .meta({ id: 'TemplateDetail' });
export type TemplateDetailBody = z.infer<typeof templateDetailBody>;

/** Path parameters naming a template. */
export const templateParams = z.strictObject({ namespace: z.string().min(1), name: z.string().min(1) });
/** `GET /v1/templates/{namespace}/{name}` query. */
export const templateQuery = z.strictObject({
  version: z.string().min(1).optional().describe('The highest registered version when omitted.'),
});

/**
 * JSON form of `POST /v1/templates` and `POST /v1/templates/validate`; the YAML may instead be sent as the raw
 * body with content type `text/yaml`, `application/yaml` or `text/plain`.
 */
export const templateSourceBody = z.strictObject({ yaml: z.string().min(1) }).meta({ id: 'TemplateSource' });
export type TemplateSourceBody = z.infer<typeof templateSourceBody>;

/** `POST /v1/templates/validate` success response (failures are 422 `TEMPLATE_INVALID` with `details.issues`). */
export const templateValidationBody = z
  .object({ valid: z.literal(true), template: templateDefinitionBody })
  .meta({ id: 'TemplateValidation' });
export type TemplateValidationBody = z.infer<typeof templateValidationBody>;

/** `POST /v1/templates` response: 201 when newly registered, 200 when the same content was already there. */
export const templateRegistrationBody = z
  .object({ created: z.boolean(), template: templateDetailBody })
  .meta({ id: 'TemplateRegistration' });
export type TemplateRegistrationBody = z.infer<typeof templateRegistrationBody>;
