/**
 * The task filter as `tasker.list_tasks` takes it (jsonb): shared by task listings and bulk actions, so a bulk
 * action on a filter selects exactly the tasks the listing with that filter shows.
 */
import type { TaskState } from '../state/index.js';

/** Filters of a task listing; every field is optional and they combine with AND. */
export interface TaskListFilter {
  namespace?: string;
  /** Template name. */
  name?: string;
  version?: string;
  state?: TaskState[];
  /** Tasks created at or after this time. */
  createdFrom?: Date;
  /** Tasks created before this time. */
  createdTo?: Date;
  /** Tasks carrying every one of these tags. */
  tags?: string[];
  /**
   * A task uuid (or a hex prefix of at least 4 digits; dashes are ignored), a correlation id, an idempotency key
   * (as sent with the task), or a stored identity hash (`key:...`, `ctx:...`).
   */
  search?: string;
}

/** The shortest uuid prefix a search matches (shorter ones would match a large share of all tasks). */
export const MIN_UUID_PREFIX = 4;

const HEX = /^[0-9a-f]+$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

function asUuid(hex32: string): string {
  return `${hex32.slice(0, 8)}-${hex32.slice(8, 12)}-${hex32.slice(12, 16)}-${hex32.slice(16, 20)}-${hex32.slice(20)}`;
}

/**
 * The uuid range a search names as a uuid prefix (both ends inclusive), so the primary key answers it; none
 * when the text is not 4..32 hex digits.
 */
export function uuidPrefixRange(search: string): { from: string; to: string } | undefined {
  const hex = search.trim().toLowerCase().replaceAll('-', '');
  if (hex.length < MIN_UUID_PREFIX || hex.length > 32 || !HEX.test(hex)) return undefined;
  return { from: asUuid(hex.padEnd(32, '0')), to: asUuid(hex.padEnd(32, 'f')) };
}

/**
 * The smallest UUIDv7 of a millisecond: task uuids are UUIDv7 drawn inside the transaction that stores
 * `created_at` (its start), so a task created at or after `at` has a uuid at or above this one, and the primary
 * key bounds a `created_from` filter.
 */
export function uuidV7Floor(at: Date): string {
  const ms = Math.max(0, Math.trunc(at.getTime()));
  return asUuid(ms.toString(16).padStart(12, '0').slice(-12).padEnd(32, '0'));
}

/** The jsonb filter of `tasker.list_tasks`. */
export function taskFilterJson(filter: TaskListFilter): string {
  const search = filter.search?.trim() || undefined;
  const range = search === undefined ? undefined : uuidPrefixRange(search);
  const lower = search?.toLowerCase();
  return JSON.stringify({
    namespace: filter.namespace,
    name: filter.name,
    version: filter.version,
    states: filter.state && filter.state.length > 0 ? filter.state : undefined,
    created_from: filter.createdFrom?.toISOString(),
    created_from_uuid: filter.createdFrom ? uuidV7Floor(filter.createdFrom) : undefined,
    created_to: filter.createdTo?.toISOString(),
    tags: filter.tags && filter.tags.length > 0 ? filter.tags : undefined,
    search,
    search_uuid_from: range?.from,
    search_uuid_to: range?.to,
    search_uuid: lower !== undefined && UUID.test(lower) ? lower : undefined,
  });
}
