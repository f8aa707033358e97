/** `POST /v1/tasks/bulk`: cancel, or retry the failed steps of, many tasks at once. */
import { bulkTaskAction, type BulkSelection } from '../../orchestration/bulk-actions.js';
import { authorize, type ApiPermission } from '../auth.js';
import { defineRoute, type ApiContext, type ApiRoute } from '../route.js';
import { bulkTaskActionBody, bulkTaskResultBody, errorBody, type BulkTaskActionBody } from '../schemas.js';
import { toTaskListFilter } from '../task-filter-input.js';

/** The permission of the single action each bulk action repeats. */
const PERMISSION: Record<BulkTaskActionBody['action'], ApiPermission> = {
  cancel: 'tasks:cancel',
  retry_failed: 'steps:resolve',
};

/** The bulk route. */
export function bulkRoutes(ctx: ApiContext): ApiRoute[] {
  return [
    defineRoute({
      method: 'POST',
      url: '/v1/tasks/bulk',
      operationId: 'bulkTaskAction',
      summary: 'Cancel, or retry the failed steps of, a list of tasks or every task a filter selects.',
      description:
        'Needs the permission of the single action: `tasks:cancel` for `cancel`, `steps:resolve` for ' +
        '`retry_failed`. Give exactly one of `task_uuids` and `filter`. `matched` counts the selected tasks the ' +
        'action applies to; with `dry_run` nothing changes (use it for a confirmation that says how many tasks ' +
        'an action touches). A filter selecting more than `orchestration.api.bulk_max_tasks` tasks (10,000 by ' +
        'default) is refused (400): narrow it. ' +
        'Tasks are changed in chunks, each its own short transaction, and each is audited as the single action ' +
        'would be (`by` = the caller, with the reason).',
      tag: 'tasks',
      permission: 'authenticated',
      body: { kind: 'json', schema: bulkTaskActionBody },
      responses: [
        { status: 200, description: 'How many tasks matched and changed.', schema: bulkTaskResultBody },
        {
          status: 400,
          description:
            'Invalid body, or a filter selecting too many tasks (`TASK_INVALID`, `details.max_tasks`).',
          schema: errorBody,
        },
        {
          status: 403,
          description: 'The caller may not perform this action (`FORBIDDEN`).',
          schema: errorBody,
        },
      ],
      async handle({ body, principal }) {
        authorize(principal, PERMISSION[body.action]);
        const selection: BulkSelection = body.task_uuids
          ? { taskUuids: body.task_uuids }
          : { filter: toTaskListFilter(body.filter ?? {}) };
        const result = await bulkTaskAction(ctx.pool, body.action, selection, {
          reason: body.reason,
          by: principal.name,
          processorId: ctx.processorId,
          dryRun: body.dry_run === true,
          maxTasks: ctx.config.orchestration.api.bulk_max_tasks,
        });
        return { matched: result.matched, affected: result.affected, dry_run: result.dryRun };
      },
    }),
  ];
}
