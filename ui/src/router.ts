/**
 * Hash routing: `/ui/#/tasks?state=error`, `/ui/#/tasks/<uuid>?step=<uuid>`, `/ui/#/templates/<ns>/<name>`.
 * The hash keeps every page one static document (the server serves index.html for /ui and /ui/*), and links can
 * be shared and bookmarked, filters included.
 */

/** A parsed location. */
export type Route =
  | { page: 'overview' }
  | { page: 'tasks'; query: Record<string, string> }
  | { page: 'task'; taskUuid: string; stepUuid?: string }
  | { page: 'templates' }
  | { page: 'template'; namespace: string; name: string; version?: string }
  | { page: 'dlq'; query: Record<string, string> }
  | { page: 'not_found'; path: string };

function queryOf(search: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of new URLSearchParams(search)) out[k] = v;
  return out;
}

function decode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

/** Parses a location hash (`#/tasks?x=y`, `#/`, or empty). */
export function parseRoute(hash: string): Route {
  const raw = hash.replace(/^#/, '');
  const [pathPart = '', search = ''] = raw.split('?', 2);
  const parts = pathPart
    .split('/')
    .filter((p) => p !== '')
    .map(decode);
  const query = queryOf(search);
  const [first, second, third] = parts;
  if (parts.length === 0 || (first === 'overview' && parts.length === 1)) return { page: 'overview' };
  if (first === 'tasks' && parts.length === 1) return { page: 'tasks', query };
  if (first === 'tasks' && parts.length === 2 && second) {
    return query.step
      ? { page: 'task', taskUuid: second, stepUuid: query.step }
      : { page: 'task', taskUuid: second };
  }
  if (first === 'templates' && parts.length === 1) return { page: 'templates' };
  if (first === 'templates' && parts.length === 3 && second && third) {
    return query.version
      ? { page: 'template', namespace: second, name: third, version: query.version }
      : { page: 'template', namespace: second, name: third };
  }
  if (first === 'dlq' && parts.length === 1) return { page: 'dlq', query };
  return { page: 'not_found', path: `/${parts.join('/')}` };
}

function withQuery(path: string, query: Record<string, string | undefined>): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== '') params.set(k, v);
  const text = params.toString();
  return text === '' ? path : `${path}?${text}`;
}

const enc = encodeURIComponent;

/** The hash (with `#`) of a route; the inverse of {@link parseRoute}. */
export function hrefOf(route: Route): string {
  switch (route.page) {
    case 'overview':
      return '#/';
    case 'tasks':
      return `#${withQuery('/tasks', route.query)}`;
    case 'task':
      return `#${withQuery(`/tasks/${enc(route.taskUuid)}`, { step: route.stepUuid })}`;
    case 'templates':
      return '#/templates';
    case 'template':
      return `#${withQuery(`/templates/${enc(route.namespace)}/${enc(route.name)}`, { version: route.version })}`;
    case 'dlq':
      return `#${withQuery('/dlq', route.query)}`;
    case 'not_found':
      return `#${route.path}`;
  }
}

/** Link to a task, optionally with one of its steps open. */
export function taskHref(taskUuid: string, stepUuid?: string): string {
  return hrefOf(stepUuid ? { page: 'task', taskUuid, stepUuid } : { page: 'task', taskUuid });
}

/** Link to a template page. */
export function templateHref(namespace: string, name: string, version?: string): string {
  return hrefOf(
    version ? { page: 'template', namespace, name, version } : { page: 'template', namespace, name },
  );
}
