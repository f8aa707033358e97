import type { Queryable } from '../db/pool.js';
import { queryRows } from '../db/query.js';
import { assertValidTemplate, templateFingerprint, topologicalOrder } from '../templates/index.js';
import type { TaskTemplate } from '../templates/types.js';

/** A registered template version as the engine references it. */
export interface RegisteredTemplate {
  templateUuid: string;
  namespace: string;
  name: string;
  version: string;
}

/**
 * Registers a template version. Idempotent: registering identical content again is a no-op; different content
 * under an existing version is refused with TEMPLATE_CONFLICT (a version is immutable, so running tasks never
 * change under their feet). Steps are stored in topological order. `maxDecisionDepth`
 * (`orchestration.decision_points.max_depth`) refuses templates whose decisions nest deeper.
 */
export async function registerTemplate(
  db: Queryable,
  template: TaskTemplate,
  options: { maxDecisionDepth?: number } = {},
): Promise<RegisteredTemplate & { created: boolean }> {
  assertValidTemplate(
    template,
    options.maxDecisionDepth !== undefined ? { maxDecisionDepth: options.maxDecisionDepth } : undefined,
  );
  const order = topologicalOrder(template);
  const byName = new Map(template.steps.map((s) => [s.name, s]));
  const definition = { ...template, steps: order.map((n) => byName.get(n)!) };
  const rows = await queryRows<{ template_uuid: string; created: boolean }>(
    db,
    { text: 'SELECT * FROM tasker.register_template($1, $2)' },
    [JSON.stringify(definition), templateFingerprint(template)],
  );
  const row = rows[0]!;
  return {
    templateUuid: row.template_uuid,
    created: row.created,
    namespace: template.namespace,
    name: template.name,
    version: template.version,
  };
}
