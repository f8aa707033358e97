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
  /** Loaded templates: answered without awaiting (this runs once per completed step). */
  readonly #loaded = new Map<string, StepEvents>();
  /** Reads in progress, shared by concurrent callers. */
  readonly #loading = new Map<string, Promise<StepEvents>>();

  constructor(db: Queryable, known: readonly TaskTemplate[] = []) {
    this.#db = db;
    for (const t of known) this.#loaded.set(templateKey(t), eventsByStep(t.steps));
  }

  /**
   * The declarations of one step of one template version (empty when it publishes nothing): synchronously once
   * the template is loaded, else a promise of them.
   */
  forStep(
    t: { namespace: string; templateName: string; templateVersion: string },
    step: string,
  ): readonly EventDeclaration[] | Promise<readonly EventDeclaration[]> {
    const key = templateKey({ namespace: t.namespace, name: t.templateName, version: t.templateVersion });
    const loaded = this.#loaded.get(key);
    if (loaded) return loaded.get(step) ?? [];
    let loading = this.#loading.get(key);
    if (!loading) {
      loading = this.#load(t.namespace, t.templateName, t.templateVersion).then(
        (events) => {
          this.#loaded.set(key, events);
          this.#loading.delete(key);
          return events;
        },
        (e: unknown) => {
          // A failed read is not cached: the next completion asks again.
          this.#loading.delete(key);
          throw e;
        },
      );
      this.#loading.set(key, loading);
    }
    return loading.then((events) => events.get(step) ?? []);
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
