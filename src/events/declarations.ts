import type { Queryable } from '../db/pool.js';
import { queryRows } from '../db/query.js';
import { templateKey, type EventDeclaration, type TaskTemplate } from '../templates/types.js';

type StepEvents = ReadonlyMap<string, readonly EventDeclaration[]>;

function eventsByStep(steps: readonly { name: string; publishesEvents?: EventDeclaration[] }[]): StepEvents {
  const map = new Map<string, readonly EventDeclaration[]>();
  for (const s of steps) {
    if (s.publishesEvents && s.publishesEvents.length > 0) map.set(s.name, s.publishesEvents);
  }
  return map;
}

/**
 * The event declarations of template steps, by template version. A registered version never changes, so each is
 * read from the database at most once per process (and never for templates this worker was given).
 */
export class EventDeclarationCache {
  readonly #db: Queryable;
  readonly #byTemplate = new Map<string, Promise<StepEvents>>();

  constructor(db: Queryable, known: readonly TaskTemplate[] = []) {
    this.#db = db;
    for (const t of known) this.#byTemplate.set(templateKey(t), Promise.resolve(eventsByStep(t.steps)));
  }

  /** The declarations of one step of one template version (empty when it publishes nothing). */
  async forStep(
    t: { namespace: string; templateName: string; templateVersion: string },
    step: string,
  ): Promise<readonly EventDeclaration[]> {
    const key = templateKey({ namespace: t.namespace, name: t.templateName, version: t.templateVersion });
    let entry = this.#byTemplate.get(key);
    if (!entry) {
      entry = this.#load(t.namespace, t.templateName, t.templateVersion);
      this.#byTemplate.set(key, entry);
      // A failed read is not cached: the next completion asks again.
      entry.catch(() => this.#byTemplate.delete(key));
    }
    return (await entry).get(step) ?? [];
  }

  async #load(namespace: string, name: string, version: string): Promise<StepEvents> {
    const [row] = await queryRows<{ events: Record<string, EventDeclaration[]> }>(
      this.#db,
      {
        name: 'tasker_template_step_events',
        text: 'SELECT tasker.template_step_events($1, $2, $3) AS events',
      },
      [namespace, name, version],
    );
    return new Map(Object.entries(row?.events ?? {}));
  }
}
