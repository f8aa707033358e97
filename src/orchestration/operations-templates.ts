/**
 * Template operations: listing the registered template versions and reading one with its definition and DAG.
 * Each is one SQL call (definitions in sql/functions/).
 */
import type { Queryable } from '../db/pool.js';
import { queryRows } from '../db/query.js';

/** A registered template version in a listing. */
export interface TemplateSummary {
  templateUuid: string;
  namespace: string;
  name: string;
  version: string;
  description: string | null;
  identityStrategy: 'strict' | 'caller_provided' | 'always_unique';
  stepCount: number;
  createdAt: Date;
}

interface TemplateRow {
  template_uuid: string;
  namespace: string;
  name: string;
  version: string;
  description: string | null;
  identity_strategy: TemplateSummary['identityStrategy'];
  step_count: number;
  created_at: Date;
}

function templateSummary(r: TemplateRow): TemplateSummary {
  return {
    templateUuid: r.template_uuid,
    namespace: r.namespace,
    name: r.name,
    version: r.version,
    description: r.description,
    identityStrategy: r.identity_strategy,
    stepCount: r.step_count,
    createdAt: r.created_at,
  };
}

/** Every registered template version. */
export async function listTemplates(db: Queryable): Promise<TemplateSummary[]> {
  const rows = await queryRows<TemplateRow>(db, { text: 'SELECT * FROM tasker.list_templates()' });
  return rows.map(templateSummary);
}

/** A registered template with its definition and DAG (highest version when `version` is omitted). */
export async function getTemplate(
  db: Queryable,
  namespace: string,
  name: string,
  version?: string,
): Promise<
  TemplateSummary & {
    definition: TemplateDefinitionDocument;
    dag: { nodes: string[]; edges: [string, string][] };
  }
> {
  const [row] = await queryRows<TemplateRow & { definition: TemplateDefinitionDocument }>(
    db,
    {
      text: `SELECT t.template_uuid, t.namespace, t.name, t.version, t.description, t.identity_strategy,
                    (SELECT count(*)::int FROM tasker.template_steps s WHERE s.template_uuid = t.template_uuid) AS step_count,
                    t.created_at, t.definition
             FROM tasker.resolve_template($1, $2, $3) r JOIN tasker.templates t ON t.template_uuid = r.template_uuid`,
    },
    [namespace, name, version ?? null],
  );
  const r = row!;
  const steps = r.definition.steps;
  return {
    ...templateSummary(r),
    definition: r.definition,
    dag: {
      nodes: steps.map((s) => s.name),
      edges: steps.flatMap((s) => s.dependsOn.map((d): [string, string] => [d, s.name])),
    },
  };
}

/** A template as stored: the normalized template (camelCase, steps in topological order). */
export interface TemplateDefinitionDocument {
  namespace: string;
  name: string;
  version: string;
  description?: string;
  identityStrategy?: string;
  steps: {
    name: string;
    handler: string;
    description?: string;
    dependsOn: string[];
    retry: Record<string, unknown>;
    timeoutMs?: number;
    inputs: Record<string, unknown>;
  }[];
}
