/**
 * Dead-letter queue operations: listing, reading and resolving the entries of tasks that were given up on.
 * Each is one SQL call (definitions in sql/functions/).
 */
import type { Queryable } from '../db/pool.js';
import { queryRows } from '../db/query.js';
import type { DlqReason, DlqResolutionStatus } from '../contract/names.js';
import { ErrorCode } from '../errors.js';
import { decodeCursor, encodeCursor, notFound, type Page } from './operations-common.js';

// Reasons and statuses are names SQL shares (the tasks_dlq CHECKs); they are defined in the contract.
export {
  DLQ_REASONS,
  DLQ_RESOLUTION_STATUSES,
  type DlqReason,
  type DlqResolutionStatus,
} from '../contract/names.js';

/** A dead-letter entry, with the snapshot of its task when it was dead-lettered. */
export interface DlqEntry {
  dlqEntryUuid: string;
  taskUuid: string;
  originalState: string;
  reason: DlqReason;
  resolutionStatus: DlqResolutionStatus;
  resolutionNotes: string | null;
  resolvedBy: string | null;
  resolvedAt: Date | null;
  taskSnapshot: Record<string, unknown>;
  createdAt: Date;
  updatedAt: Date;
}

interface DlqRow {
  dlq_entry_uuid: string;
  task_uuid: string;
  original_state: string;
  dlq_reason: DlqReason;
  resolution_status: DlqResolutionStatus;
  resolution_timestamp: Date | null;
  resolution_notes: string | null;
  resolved_by: string | null;
  task_snapshot: Record<string, unknown>;
  created_at: Date;
  updated_at: Date;
}

function dlqEntry(r: DlqRow): DlqEntry {
  return {
    dlqEntryUuid: r.dlq_entry_uuid,
    taskUuid: r.task_uuid,
    originalState: r.original_state,
    reason: r.dlq_reason,
    resolutionStatus: r.resolution_status,
    resolutionNotes: r.resolution_notes,
    resolvedBy: r.resolved_by,
    resolvedAt: r.resolution_timestamp,
    taskSnapshot: r.task_snapshot,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

/** Dead-letter entries, newest first. */
export async function listDlq(
  db: Queryable,
  filter: { resolutionStatus?: DlqResolutionStatus; reason?: DlqReason } = {},
  page: { limit?: number; cursor?: string } = {},
): Promise<Page<DlqEntry>> {
  const limit = Math.min(1000, Math.max(1, Math.trunc(page.limit ?? 50)));
  const rows = await queryRows<DlqRow>(db, { text: 'SELECT * FROM tasker.list_dlq($1, $2, $3, $4)' }, [
    filter.resolutionStatus ?? null,
    filter.reason ?? null,
    decodeCursor(page.cursor),
    limit + 1,
  ]);
  const items = rows.slice(0, limit).map(dlqEntry);
  return { items, nextCursor: rows.length > limit ? encodeCursor(items.at(-1)?.dlqEntryUuid) : null };
}

/** One dead-letter entry, or DLQ_ENTRY_NOT_FOUND. */
export async function getDlq(db: Queryable, entryUuid: string): Promise<DlqEntry> {
  const [row] = await queryRows<DlqRow>(
    db,
    { text: 'SELECT * FROM tasker.tasks_dlq WHERE dlq_entry_uuid = $1' },
    [entryUuid],
  );
  if (!row) throw notFound(ErrorCode.DlqEntryNotFound, `dead-letter entry ${entryUuid}`);
  return dlqEntry(row);
}

/** Updates the resolution of a dead-letter entry; only the given fields change. */
export async function updateDlq(
  db: Queryable,
  entryUuid: string,
  patch: { resolutionStatus?: DlqResolutionStatus; resolutionNotes?: string; resolvedBy?: string },
): Promise<DlqEntry> {
  const [row] = await queryRows<DlqRow>(db, { text: 'SELECT * FROM tasker.update_dlq($1, $2, $3, $4)' }, [
    entryUuid,
    patch.resolutionStatus ?? null,
    patch.resolutionNotes ?? null,
    patch.resolvedBy ?? null,
  ]);
  return dlqEntry(row!);
}
