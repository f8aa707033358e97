/** Dead-letter queue routes: list, read and resolve entries. */
import { getDlq, listDlq, updateDlq } from '../../orchestration/operations.js';
import { seesStacks } from '../redact.js';
import { defineRoute, type ApiContext, type ApiRoute } from '../route.js';
import {
  dlqEntryBody as dlqSchema,
  dlqListBody,
  dlqParams,
  errorBody,
  listDlqQuery,
  updateDlqBody,
} from '../schemas.js';
import { dlqEntryBody } from '../views.js';

const notFound = { status: 404, description: 'No such entry (`DLQ_ENTRY_NOT_FOUND`).', schema: errorBody };

/** The dead-letter queue routes. */
export function dlqRoutes(ctx: ApiContext): ApiRoute[] {
  return [
    defineRoute({
      method: 'GET',
      url: '/v1/dlq',
      operationId: 'listDlq',
      summary: 'Dead-letter entries, newest first, with cursor pagination.',
      tag: 'dlq',
      permission: 'dlq:read',
      query: listDlqQuery,
      responses: [{ status: 200, description: 'One page of entries.', schema: dlqListBody }],
      async handle({ query, principal }) {
        const page = await listDlq(
          ctx.pool,
          {
            ...(query.resolution_status ? { resolutionStatus: query.resolution_status } : {}),
            ...(query.reason ? { reason: query.reason } : {}),
          },
          { limit: query.limit, ...(query.cursor ? { cursor: query.cursor } : {}) },
        );
        const stacks = seesStacks(principal);
        return { items: page.items.map((e) => dlqEntryBody(e, stacks)), next_cursor: page.nextCursor };
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/v1/dlq/:dlq_entry_uuid',
      operationId: 'getDlqEntry',
      summary: 'One dead-letter entry.',
      tag: 'dlq',
      permission: 'dlq:read',
      params: dlqParams,
      responses: [{ status: 200, description: 'The entry.', schema: dlqSchema }, notFound],
      async handle({ params, principal }) {
        return dlqEntryBody(await getDlq(ctx.pool, params.dlq_entry_uuid), seesStacks(principal));
      },
    }),
    defineRoute({
      method: 'PATCH',
      url: '/v1/dlq/:dlq_entry_uuid',
      operationId: 'updateDlqEntry',
      summary: 'Update the resolution of a dead-letter entry (only the given fields change).',
      tag: 'dlq',
      permission: 'dlq:update',
      params: dlqParams,
      body: { kind: 'json', schema: updateDlqBody },
      responses: [{ status: 200, description: 'The updated entry.', schema: dlqSchema }, notFound],
      async handle({ params, body, principal }) {
        const entry = await updateDlq(ctx.pool, params.dlq_entry_uuid, {
          ...(body.resolution_status ? { resolutionStatus: body.resolution_status } : {}),
          ...(body.resolution_notes !== undefined ? { resolutionNotes: body.resolution_notes } : {}),
          // Resolving without naming who did it records the authenticated caller.
          ...(body.resolved_by
            ? { resolvedBy: body.resolved_by }
            : body.resolution_status && body.resolution_status !== 'pending'
              ? { resolvedBy: principal.name }
              : {}),
        });
        return dlqEntryBody(entry, seesStacks(principal));
      },
    }),
  ];
}
