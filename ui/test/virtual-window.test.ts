import { describe, expect, it } from 'vitest';
import { nearEnd, windowRange } from '../src/virtual-window.js';

describe('virtual window', () => {
  it('renders only the rows in view plus overscan', () => {
    expect(windowRange(0, 400, 40, 100_000, 5)).toEqual({ first: 0, last: 15, offset: 0, total: 4_000_000 });
    expect(windowRange(4000, 400, 40, 100_000, 5)).toEqual({
      first: 95,
      last: 115,
      offset: 3800,
      total: 4_000_000,
    });
  });

  it('clamps past the end and handles empty lists', () => {
    const r = windowRange(1e9, 400, 40, 1000, 0);
    expect(r).toEqual({ first: 990, last: 1000, offset: 39_600, total: 40_000 });
    expect(windowRange(0, 400, 40, 0)).toEqual({ first: 0, last: 0, offset: 0, total: 0 });
  });

  it('asks for the next page near the end', () => {
    expect(nearEnd(windowRange(0, 400, 40, 100, 0), 100)).toBe(false);
    expect(nearEnd(windowRange(3000, 400, 40, 100, 0), 100)).toBe(true);
  });
});
