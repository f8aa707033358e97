import { describe, expect, it } from 'vitest';
import {
  describeFilters,
  EMPTY_FILTERS,
  filterBody,
  filtersFromQuery,
  filtersToQuery,
  isUnfiltered,
  listQuery,
} from '../src/task-filters.js';

const now = Date.parse('2024-05-01T12:00:00.000Z');

describe('task filters', () => {
  it('round-trips through the page address and drops unknown values', () => {
    const query = {
      state: 'error,bogus,cancelled',
      namespace: 'shop',
      name: 'fulfil',
      range: '24h',
      q: 'order-42',
      tag: 'eu,vip',
    };
    const filters = filtersFromQuery(query);
    expect(filters.states).toEqual(['error', 'cancelled']);
    expect(filtersToQuery(filters)).toEqual({ ...query, state: 'error,cancelled' });
    expect(filtersFromQuery({ range: 'forever' }).range).toBe('all');
    expect(filtersToQuery(EMPTY_FILTERS)).toEqual({});
  });

  it('fixes relative ranges against now for the list query and the bulk filter', () => {
    const filters = filtersFromQuery({ state: 'error', range: '1h', q: ' abcd ' });
    const body = filterBody(filters, now);
    expect(body).toEqual({ state: ['error'], created_from: '2024-05-01T11:00:00.000Z', search: 'abcd' });
    expect(listQuery(body)).toEqual({
      namespace: undefined,
      name: undefined,
      version: undefined,
      state: 'error',
      created_from: '2024-05-01T11:00:00.000Z',
      created_to: undefined,
      tag: undefined,
      search: 'abcd',
    });
  });

  it('takes a custom range and ignores invalid dates', () => {
    const body = filterBody(
      { ...EMPTY_FILTERS, range: 'custom', from: '2024-04-01T00:00:00Z', to: 'soon' },
      now,
    );
    expect(body).toEqual({ created_from: '2024-04-01T00:00:00.000Z' });
  });

  it('says which tasks a bulk action touches', () => {
    expect(
      describeFilters(filtersFromQuery({ state: 'steps_in_process,error', namespace: 'shop', range: '1h' })),
    ).toBe('state steps in process or error, namespace "shop", created in the last hour');
    expect(describeFilters(EMPTY_FILTERS)).toBe('all tasks');
    expect(isUnfiltered(EMPTY_FILTERS)).toBe(true);
    expect(isUnfiltered(filtersFromQuery({ q: 'x' }))).toBe(false);
  });
});
