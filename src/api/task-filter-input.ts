/**
 * A task filter as the wire gives it (`GET /v1/tasks` query, `POST /v1/tasks/bulk` `filter`) to the engine's
 * listing filter: both routes select tasks the same way.
 */
import type { TaskListFilter } from '../orchestration/operations.js';
import type { TaskState } from '../state/index.js';

/** The filter fields on the wire, parsed. */
export interface TaskFilterInput {
  namespace?: string | undefined;
  name?: string | undefined;
  version?: string | undefined;
  state?: TaskState[] | undefined;
  created_from?: string | undefined;
  created_to?: string | undefined;
  tag?: string[] | undefined;
  search?: string | undefined;
}

/** The engine filter of a parsed wire filter. */
export function toTaskListFilter(q: TaskFilterInput): TaskListFilter {
  return {
    ...(q.namespace ? { namespace: q.namespace } : {}),
    ...(q.name ? { name: q.name } : {}),
    ...(q.version ? { version: q.version } : {}),
    ...(q.state && q.state.length > 0 ? { state: q.state } : {}),
    ...(q.created_from ? { createdFrom: new Date(q.created_from) } : {}),
    ...(q.created_to ? { createdTo: new Date(q.created_to) } : {}),
    ...(q.tag && q.tag.length > 0 ? { tags: q.tag } : {}),
    ...(q.search ? { search: q.search } : {}),
  };
}
