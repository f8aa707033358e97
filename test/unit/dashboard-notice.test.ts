import { describe, expect, it } from 'vitest';
import { dashboardNotice } from '../../src/cli/dashboard-notice.js';

describe('the dashboard line of tasker dev and tasker orchestrator', () => {
  it('names the URL, says how to build it, or says nothing when switched off', () => {
    expect(dashboardNotice('http://127.0.0.1:8080', 'served')).toBe('Dashboard: http://127.0.0.1:8080/ui');
    expect(dashboardNotice('http://127.0.0.1:8080', 'not_built')).toBe(
      'Dashboard not built: run `npm run build` to serve it at http://127.0.0.1:8080/ui',
    );
    expect(dashboardNotice('http://127.0.0.1:8080', 'disabled')).toBeUndefined();
  });
});
