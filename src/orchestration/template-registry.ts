import type { Queryable } from '../db/pool.js';
import { mapDbError } from '../db/errors.js';
import { ErrorCode, TaskerError } from '../errors.js';
import { assertValidTemplate, templateFingerprint, topologicalOrder } from '../templates/index.js';
import { templateKey, type TaskTemplate } from '../templates/types.js';

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
 * change under their feet). Steps are stored in topological order.
 */
export async function registerTemplate(
  db: Queryable,
  template: TaskTemplate,
): Promise<RegisteredTemplate & { created: boolean }> {
  assertValidTemplate(template);
  const order = topologicalOrder(template);
  const byName = new Map(template.steps.map((s) => [s.name, s]));
  const definition = { ...template, steps: order.map((n) => byName.get(n)!) };
  try {
    const res = await db.query<{ template_uuid: string; created: boolean }>(
      'SELECT * FROM tasker.register_template($1, $2)',
      [JSON.stringify(definition), templateFingerprint(template)],
    );
    const row = res.rows[0]!;
    return {
      templateUuid: row.template_uuid,
      created: row.created,
      namespace: template.namespace,
      name: template.name,
      version: template.version,
    };
  } catch (e) {
    throw mapDbError(e);
  }
}

function compareSemver(a: string, b: string): number {
  const parse = (v: string): [number[], string] => {
    const [core = '', pre = ''] = v.split('+')[0]!.split(/-(.*)/s);
    return [core.split('.').map(Number), pre];
  };
  const [ca, pa] = parse(a);
  const [cb, pb] = parse(b);
  for (let i = 0; i < 3; i++) {
    const d = (ca[i] ?? 0) - (cb[i] ?? 0);
    if (d !== 0) return d;
  }
  if (pa === pb) return 0;
  if (!pa) return 1; // a release ranks above its pre-releases
  if (!pb) return -1;
  return pa < pb ? -1 : 1;
}

/**
 * Resolves `namespace/name@version` to a registered template, caching hits (versions are immutable, so a hit
 * never goes stale). Without a version, the highest registered semver is used (not cached: a newer version may
 * be registered at any time).
 */
export class TemplateResolver {
  readonly #db: Queryable;
  readonly #cache = new Map<string, RegisteredTemplate>();

  constructor(db: Queryable) {
    this.#db = db;
  }

  async resolve(namespace: string, name: string, version?: string): Promise<RegisteredTemplate> {
    if (version !== undefined) {
      const key = templateKey({ namespace, name, version });
      const hit = this.#cache.get(key);
      if (hit) return hit;
    }
    let rows: { template_uuid: string; version: string }[];
    try {
      const res = await this.#db.query<{ template_uuid: string; version: string }>({
        name: 'tasker_resolve_template',
        text: `SELECT template_uuid, version FROM tasker.templates
               WHERE namespace = $1 AND name = $2 AND ($3::text IS NULL OR version = $3)`,
        values: [namespace, name, version ?? null],
      });
      rows = res.rows;
    } catch (e) {
      throw mapDbError(e);
    }
    if (rows.length === 0) {
      const what = version ? templateKey({ namespace, name, version }) : `${namespace}/${name}`;
      throw new TaskerError(
        ErrorCode.TemplateNotFound,
        `template ${what} is not registered: register it first (tasker worker --templates, or registerTemplate())`,
        { details: { namespace, name, version } },
      );
    }
    rows.sort((a, b) => compareSemver(b.version, a.version));
    const best = rows[0]!;
    const found = { templateUuid: best.template_uuid, namespace, name, version: best.version };
    this.#cache.set(templateKey(found), found);
    return found;
  }
}
