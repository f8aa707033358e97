import type pg from 'pg';
import { mapDbError } from './errors.js';
import type { Queryable } from './pool.js';

/**
 * Runs one statement and returns its rows; any database error comes back as a typed Tasker error (see
 * {@link mapDbError}). Pass `name` to make it a prepared statement (parsed and planned once per connection).
 */
export async function queryRows<R extends pg.QueryResultRow>(
  db: Queryable,
  statement: { name?: string; text: string },
  values: unknown[] = [],
): Promise<R[]> {
  try {
    const res = await db.query<R>({ ...statement, values });
    return res.rows;
  } catch (e) {
    throw mapDbError(e);
  }
}
