import { describe, expect, it } from 'vitest';
import { stableStringify } from '../../src/templates/index.js';

describe('stableStringify', () => {
  it('keeps keys named __proto__ and constructor, and pollutes nothing', () => {
    const value = JSON.parse(
      '{"b":2,"__proto__":{"polluted":1},"constructor":{"prototype":{"polluted":1}}}',
    ) as object;
    expect(stableStringify(value)).toBe(
      '{"__proto__":{"polluted":1},"b":2,"constructor":{"prototype":{"polluted":1}}}',
    );
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});
