import { describe, expect, it } from 'vitest';
import { hrefOf, parseRoute, type Route } from '../src/router.js';

describe('hash routes', () => {
  const uuid = '0191f0a2-1111-7222-8333-444455556666';
  const routes: Route[] = [
    { page: 'overview' },
    { page: 'tasks', query: {} },
    { page: 'tasks', query: { state: 'error,cancelled', q: 'order 42' } },
    { page: 'task', taskUuid: uuid },
    { page: 'task', taskUuid: uuid, stepUuid: uuid },
    { page: 'templates' },
    { page: 'template', namespace: 'shop', name: 'order/fulfil' },
    { page: 'template', namespace: 'shop', name: 'fulfil', version: '1.2.0' },
    { page: 'dlq', query: { status: 'all' } },
  ];

  it('round-trips every page through its href', () => {
    for (const route of routes) expect(parseRoute(hrefOf(route)), hrefOf(route)).toEqual(route);
  });

  it('reads empty and unknown locations', () => {
    expect(parseRoute('')).toEqual({ page: 'overview' });
    expect(parseRoute('#/')).toEqual({ page: 'overview' });
    expect(parseRoute('#/nope/x')).toEqual({ page: 'not_found', path: '/nope/x' });
    expect(parseRoute('#/tasks/%E0%A4%A')).toEqual({ page: 'task', taskUuid: '%E0%A4%A' });
  });
});
