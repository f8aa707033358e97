/** The line `tasker dev` and `tasker orchestrator` print about the web dashboard once the API listens. */
import type { DashboardStatus } from '../api/index.js';
import { UI_PATH } from '../api/index.js';

/** Where the dashboard is, or why it is not there; undefined when it is switched off. */
export function dashboardNotice(apiUrl: string, status: DashboardStatus): string | undefined {
  switch (status) {
    case 'served':
      return `Dashboard: ${apiUrl}${UI_PATH}`;
    case 'not_built':
      return `Dashboard not built: run \`npm run build\` to serve it at ${apiUrl}${UI_PATH}`;
    case 'disabled':
      return undefined;
  }
}
