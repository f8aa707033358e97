/**
 * What every listing and lookup among the engine operations shares: pages, their opaque cursors, and the
 * not-found error.
 */
import { ErrorCode, TaskerError } from '../errors.js';

/** One page of a listing; pass `nextCursor` back to get the next page (null = last page). */
export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

/** Cursor of a keyset-paginated listing: the last item's uuid, opaque to callers. */
export function encodeCursor(uuid: string | undefined): string | null {
  return uuid === undefined ? null : Buffer.from(uuid, 'utf8').toString('base64url');
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The uuid a cursor stands for; null for the first page. Throws TASK_INVALID for a cursor not made here. */
export function decodeCursor(cursor: string | undefined): string | null {
  if (cursor === undefined || cursor === '') return null;
  const uuid = Buffer.from(cursor, 'base64url').toString('utf8');
  if (!UUID.test(uuid)) {
    throw new TaskerError(
      ErrorCode.TaskInvalid,
      'cursor is not valid: pass back next_cursor from the previous page',
      {
        details: { field: 'cursor' },
      },
    );
  }
  return uuid;
}

/** The error of an unknown task, step, template or dead-letter entry. */
export function notFound(code: ErrorCode, what: string): TaskerError {
  return new TaskerError(code, `${what} not found`);
}
