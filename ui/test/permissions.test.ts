import { describe, expect, it } from 'vitest';
import type { WhoAmI } from '../src/api-types.js';
import { can, hasPermission, isOperator, visiblePages } from '../src/permissions.js';

const admin: WhoAmI = { name: 'admin', method: 'api_key', permissions: ['*'] };
const reader: WhoAmI = {
  name: 'viewer',
  method: 'api_key',
  permissions: ['tasks:read', 'steps:read', 'templates:read', 'dlq:read', 'system:read'],
};
const canceller: WhoAmI = { name: 'ops', method: 'jwt', permissions: ['tasks:read', 'tasks:cancel'] };

describe('permission gating', () => {
  it('grants everything to `*`', () => {
    expect(can(admin, 'rerunFrom')).toBe(true);
    expect(can(admin, 'updateDlq')).toBe(true);
    expect(isOperator(admin)).toBe(true);
  });

  it('offers a read-only principal no operator action', () => {
    for (const action of [
      'cancelTask',
      'bulkCancel',
      'bulkRetryFailed',
      'retryStep',
      'resolveStep',
      'completeStep',
      'rerunFrom',
      'updateDlq',
    ] as const) {
      expect(can(reader, action), action).toBe(false);
    }
    expect(isOperator(reader)).toBe(false);
    expect(visiblePages(reader)).toEqual(['overview', 'tasks', 'templates', 'dlq']);
  });

  it('follows each permission separately', () => {
    expect(can(canceller, 'cancelTask')).toBe(true);
    expect(can(canceller, 'bulkCancel')).toBe(true);
    expect(can(canceller, 'retryStep')).toBe(false);
    expect(visiblePages(canceller)).toEqual(['overview', 'tasks']);
    expect(hasPermission(undefined, 'tasks:read')).toBe(false);
  });
});
