/**
 * The task list's filters, in their three forms: the page address (`#/tasks?state=error&range=24h`), the
 * `GET /v1/tasks` query and the `POST /v1/tasks/bulk` filter, plus the words a confirmation uses to say which
 * tasks a bulk action touches. Filtering is the server's (the list pages through it); nothing is filtered here.
 */
import type { TaskFilterBody, TaskState } from './api-types.js';
import { TASK_STATE_ORDER } from './states.js';

/** Relative time ranges offered by the filter bar, in minutes (`all` = no bound, `custom` = from/to). */
export const TIME_RANGES = { '15m': 15, '1h': 60, '24h': 1440, '7d': 10080, all: 0, custom: 0 } as const;
export type TimeRange = keyof typeof TIME_RANGES;

export interface TaskFilters {
  states: TaskState[];
  namespace: string;
  name: string;
  version: string;
  tags: string[];
  range: TimeRange;
  /** ISO timestamps of a custom range. */
  from: string;
  to: string;
  /** Task uuid (or a prefix), identity key or idempotency key. */
  search: string;
}

export const EMPTY_FILTERS: TaskFilters = {
  states: [],
  namespace: '',
  name: '',
  version: '',
  tags: [],
  range: 'all',
  from: '',
  to: '',
  search: '',
};

function isTaskState(value: string): value is TaskState {
  return (TASK_STATE_ORDER as readonly string[]).includes(value);
}

/** Reads filters from the page address; unknown states and ranges are dropped. */
export function filtersFromQuery(query: Record<string, string>): TaskFilters {
  const range = query.range && query.range in TIME_RANGES ? (query.range as TimeRange) : 'all';
  const list = (v: string | undefined) =>
    (v ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== '');
  return {
    states: list(query.state).filter(isTaskState),
    namespace: query.namespace ?? '',
    name: query.name ?? '',
    version: query.version ?? '',
    tags: list(query.tag),
    range,
    from: range === 'custom' ? (query.from ?? '') : '',
    to: range === 'custom' ? (query.to ?? '') : '',
    search: query.q ?? '',
  };
}

/** The page address query of `filters` (empty fields left out). */
export function filtersToQuery(filters: TaskFilters): Record<string, string> {
  const out: Record<string, string> = {};
  if (filters.states.length > 0) out.state = filters.states.join(',');
  if (filters.namespace) out.namespace = filters.namespace;
  if (filters.name) out.name = filters.name;
  if (filters.version) out.version = filters.version;
  if (filters.tags.length > 0) out.tag = filters.tags.join(',');
  if (filters.range !== 'all') out.range = filters.range;
  if (filters.range === 'custom' && filters.from) out.from = filters.from;
  if (filters.range === 'custom' && filters.to) out.to = filters.to;
  if (filters.search.trim()) out.q = filters.search.trim();
  return out;
}

/** A datetime-local value (`2024-05-01T10:00`) or ISO text as an ISO timestamp, or undefined when invalid. */
function isoOf(value: string): string | undefined {
  if (!value) return undefined;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : new Date(ms).toISOString();
}

/** The filter as the bulk endpoint takes it; relative ranges are fixed against `now`. */
export function filterBody(filters: TaskFilters, now: number): TaskFilterBody {
  const body: TaskFilterBody = {};
  if (filters.states.length > 0) body.state = [...filters.states];
  if (filters.namespace) body.namespace = filters.namespace;
  if (filters.name) body.name = filters.name;
  if (filters.version) body.version = filters.version;
  if (filters.tags.length > 0) body.tag = [...filters.tags];
  const minutes = TIME_RANGES[filters.range];
  if (minutes > 0) body.created_from = new Date(now - minutes * 60_000).toISOString();
  if (filters.range === 'custom') {
    const from = isoOf(filters.from);
    const to = isoOf(filters.to);
    if (from) body.created_from = from;
    if (to) body.created_to = to;
  }
  if (filters.search.trim()) body.search = filters.search.trim();
  return body;
}

/** The `GET /v1/tasks` query of a filter body (`state` comma-separated, `tag` repeated). */
export function listQuery(body: TaskFilterBody): Record<string, string | string[] | undefined> {
  return {
    namespace: body.namespace,
    name: body.name,
    version: body.version,
    state: body.state?.join(','),
    created_from: body.created_from,
    created_to: body.created_to,
    tag: body.tag,
    search: body.search,
  };
}

const RANGE_WORDS: Record<TimeRange, string> = {
  '15m': 'in the last 15 minutes',
  '1h': 'in the last hour',
  '24h': 'in the last 24 hours',
  '7d': 'in the last 7 days',
  all: '',
  custom: '',
};

/** The filter in words, for confirmations: `state error or cancelled, namespace "shop", created in the last hour`. */
export function describeFilters(filters: TaskFilters): string {
  const parts: string[] = [];
  if (filters.states.length > 0) {
    parts.push(`state ${filters.states.map((s) => s.replace(/_/g, ' ')).join(' or ')}`);
  }
  if (filters.namespace) parts.push(`namespace "${filters.namespace}"`);
  if (filters.name) parts.push(`template "${filters.name}"`);
  if (filters.version) parts.push(`version ${filters.version}`);
  if (filters.tags.length > 0) parts.push(`tags ${filters.tags.map((t) => `"${t}"`).join(', ')}`);
  if (RANGE_WORDS[filters.range]) parts.push(`created ${RANGE_WORDS[filters.range]}`);
  if (filters.range === 'custom') {
    if (filters.from) parts.push(`created from ${filters.from}`);
    if (filters.to) parts.push(`created before ${filters.to}`);
  }
  if (filters.search.trim()) parts.push(`matching "${filters.search.trim()}"`);
  return parts.length === 0 ? 'all tasks' : parts.join(', ');
}

/** True when no filter is set (a bulk action would touch every task: the UI asks for a filter first). */
export function isUnfiltered(filters: TaskFilters): boolean {
  return describeFilters(filters) === 'all tasks';
}
