/**
 * Pieces every API schema uses: UUIDs, timestamps, task and step states, JSON objects, permissions, error and
 * validation-issue bodies, and keyset pagination.
 */
import { z } from 'zod';
import { TASK_STATES, STEP_STATES } from '../state/index.js';
import type { StepState, TaskState } from '../state/index.js';
import { API_PERMISSIONS } from '../config/schema.js';

/**
 * A UUID in the canonical 8-4-4-4-12 hex form. Deliberately lenient about version/variant bits (PostgreSQL
 * accepts any such value, and callers may bring their own ids).
 */
export const uuid = z.guid({ error: 'must be a UUID (8-4-4-4-12 hex digits)' });

/** An ISO 8601 timestamp with offset, as produced by `Date.prototype.toISOString`. */
export const timestamp = z.iso.datetime({ offset: true });

/**
 * A timestamp given as input: ISO 8601 with offset, and a real date PostgreSQL can store (year 0001..9999), so
 * an out-of-range value is a 400 rather than a database error.
 */
export const inputTimestamp = z.iso.datetime({ offset: true }).refine(
  (v) => {
    const ms = Date.parse(v);
    return !Number.isNaN(ms) && new Date(ms).getUTCFullYear() >= 1;
  },
  { message: 'must be a valid date-time between years 0001 and 9999' },
);

/** Every task state. */
export const taskState = z.enum(TASK_STATES as [TaskState, ...TaskState[]]);
/** Every step state. */
export const stepState = z.enum(STEP_STATES as [StepState, ...StepState[]]);

/** A plain object as `JSON.parse` makes it (not an array, not a class instance). */
function isJsonObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

/**
 * A JSON object (the task context, metadata, snapshots), passed through as given. Not `z.record()`: zod builds
 * a record's output key by key and silently drops a `__proto__` key, so a valid context would lose data.
 */
export const jsonObject = z
  .custom<Record<string, unknown>>(isJsonObject, { error: 'must be a JSON object' })
  .meta({ type: 'object', additionalProperties: {} });

/** Permission names of the API (`*` = all). */
export const apiPermission = z.enum([...API_PERMISSIONS, '*']);

/** The body of every error response. */
export const errorBody = z
  .object({
    error: z.object({
      code: z.string().describe('Stable machine-readable code, e.g. `TASK_NOT_FOUND`.'),
      message: z.string().describe('Human-readable explanation.'),
      details: jsonObject.optional().describe('Structured details, e.g. `issues` or `task_uuid`.'),
    }),
  })
  .meta({ id: 'Error' });
export type ErrorBody = z.infer<typeof errorBody>;

/** One validation problem: where (dotted path) and what. */
export const validationIssue = z
  .object({
    path: z.string(),
    message: z.string(),
    line: z.number().int().optional().describe('1-based line in the submitted YAML, when known.'),
  })
  .meta({ id: 'ValidationIssue' });
export type ValidationIssueBody = z.infer<typeof validationIssue>;

/** Page size of listings. */
export const limit = z.coerce
  .number()
  .int()
  .min(1)
  .max(200)
  .default(50)
  .describe('Page size, 1..200 (default 50).');
/** Cursor of a keyset-paginated listing. */
export const cursor = z.string().min(1).optional().describe('`next_cursor` of the previous page.');

/** One page of a keyset-paginated listing: the items and the cursor of the next page (null = last page). */
export function pageOf<T extends z.ZodType>(item: T, id: string) {
  return z.object({ items: z.array(item), next_cursor: z.string().nullable() }).meta({ id });
}

/** A query parameter that may be repeated (`?tag=a&tag=b`) or given once. */
export const repeated = z
  .union([z.string(), z.array(z.string())])
  .transform((v) => (Array.isArray(v) ? v : [v]));
