/**
 * Wire schemas of bulk task actions (`POST /v1/tasks/bulk`): a selection (task uuids or a listing filter), the
 * action, and how many tasks it applied to.
 */
import { z } from 'zod';
import { BULK_ACTIONS } from '../orchestration/bulk-actions.js';
import { inputTimestamp, taskState, uuid } from './schemas-common.js';

/** The tasks a bulk action selects by filter: the filters of `GET /v1/tasks`, as JSON. */
export const bulkTaskFilter = z
  .strictObject({
    namespace: z.string().min(1).optional(),
    name: z.string().min(1).optional().describe('Template name.'),
    version: z.string().min(1).optional(),
    state: z
      .array(taskState)
      .min(1)
      .optional()
      .describe('Task states; intersected with those the action applies to.'),
    created_from: inputTimestamp.optional().describe('Tasks created at or after this time.'),
    created_to: inputTimestamp.optional().describe('Tasks created before this time.'),
    tag: z.array(z.string().min(1)).min(1).optional().describe('Tasks carrying every given tag.'),
    search: z.string().trim().min(1).max(255).optional().describe('As the `search` of `GET /v1/tasks`.'),
  })
  .meta({ id: 'BulkTaskFilter' });
export type BulkTaskFilterBody = z.infer<typeof bulkTaskFilter>;

/** `POST /v1/tasks/bulk` request body. */
export const bulkTaskActionBody = z
  .strictObject({
    action: z
      .enum(BULK_ACTIONS)
      .describe(
        '`cancel`: cancel every unfinished task (as `DELETE /v1/tasks/{task_uuid}`, needs `tasks:cancel`). ' +
          '`retry_failed`: reset every failed step of each failed or blocked task for retry (as the ' +
          '`reset_for_retry` step action, needs `steps:resolve`); the task resumes.',
      ),
    task_uuids: z.array(uuid).min(1).max(1000).optional().describe('The tasks, by uuid (1..1000).'),
    filter: bulkTaskFilter
      .optional()
      .describe(
        'Every task this filter selects (at most `orchestration.api.bulk_max_tasks`, 10,000 by default).',
      ),
    reason: z.string().min(1).max(2000).describe('Why; recorded in the audit trail of every task changed.'),
    dry_run: z.boolean().optional().describe('Count the tasks the action applies to; change nothing.'),
  })
  .superRefine((body, ctx) => {
    if ((body.task_uuids === undefined) === (body.filter === undefined)) {
      ctx.addIssue({
        code: 'custom',
        path: ['task_uuids'],
        message: 'give exactly one of task_uuids and filter',
      });
    }
  })
  .meta({ id: 'BulkTaskAction' });
export type BulkTaskActionBody = z.infer<typeof bulkTaskActionBody>;

/** `POST /v1/tasks/bulk` response. */
export const bulkTaskResultBody = z
  .object({
    matched: z
      .number()
      .int()
      .describe(
        'Tasks of the selection the action applies to: unfinished ones for `cancel`; failed or blocked ones with ' +
          'failed steps for `retry_failed`.',
      ),
    affected: z.number().int().describe('Tasks changed (0 for a dry run).'),
    dry_run: z.boolean(),
  })
  .meta({ id: 'BulkTaskResult' });
export type BulkTaskResultBody = z.infer<typeof bulkTaskResultBody>;
