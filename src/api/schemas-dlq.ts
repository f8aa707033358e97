/**
 * Wire schemas of the dead-letter queue: entries, listings and resolution updates.
 */
import { z } from 'zod';
import { DLQ_REASONS, DLQ_RESOLUTION_STATUSES } from '../contract/names.js';
import { cursor, jsonObject, limit, pageOf, timestamp, uuid } from './schemas-common.js';

export const dlqReason = z.enum(DLQ_REASONS);
export const dlqResolutionStatus = z.enum(DLQ_RESOLUTION_STATUSES);

/** A dead-letter queue entry. */
export const dlqEntryBody = z
  .object({
    dlq_entry_uuid: uuid,
    task_uuid: uuid,
    original_state: z.string(),
    reason: dlqReason,
    resolution_status: dlqResolutionStatus,
    resolution_notes: z.string().nullable(),
    resolved_by: z.string().nullable(),
    resolved_at: timestamp.nullable(),
    task_snapshot: jsonObject,
    created_at: timestamp,
    updated_at: timestamp,
  })
  .meta({ id: 'DlqEntry' });
export type DlqEntryBody = z.infer<typeof dlqEntryBody>;

/** `GET /v1/dlq` query. */
export const listDlqQuery = z.strictObject({
  resolution_status: dlqResolutionStatus.optional(),
  reason: dlqReason.optional(),
  limit,
  cursor,
});
export type ListDlqQuery = z.infer<typeof listDlqQuery>;
/** What a client sends as `GET /v1/dlq` query parameters. */
export type ListDlqQueryInput = z.input<typeof listDlqQuery>;

export const dlqListBody = pageOf(dlqEntryBody, 'DlqList');
export type DlqListBody = z.infer<typeof dlqListBody>;

/** Path parameters naming a DLQ entry. */
export const dlqParams = z.strictObject({ dlq_entry_uuid: uuid });

/** `PATCH /v1/dlq/{dlq_entry_uuid}` request body; at least one field. */
export const updateDlqBody = z
  .strictObject({
    resolution_status: dlqResolutionStatus.optional(),
    resolution_notes: z.string().max(10_000).optional(),
    resolved_by: z.string().min(1).max(255).optional(),
  })
  .refine((b) => Object.keys(b).length > 0, { message: 'give at least one field to update' })
  .meta({ id: 'DlqUpdate' });
export type UpdateDlqBody = z.infer<typeof updateDlqBody>;
