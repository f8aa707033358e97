/**
 * Wire schemas of the reads the web dashboard makes beyond the task, step and template resources: who the caller
 * is, the overview, and a template's recent runs by step.
 */
import { z } from 'zod';
import { stepState, taskState, timestamp, uuid } from './schemas-common.js';

/** `GET /v1/whoami` response. */
export const whoamiBody = z
  .object({
    name: z.string().describe('API key name, JWT `sub`, or `anonymous` when authentication is off.'),
    method: z
      .enum(['api_key', 'jwt', 'none'])
      .describe('How the caller authenticated (`none`: auth is off).'),
    permissions: z
      .array(z.string())
      .describe('Permissions granted, sorted; `*` grants all (always the case with auth off).'),
  })
  .meta({ id: 'Whoami' });
export type WhoamiBody = z.infer<typeof whoamiBody>;

/** The longest overview window: a week. */
export const MAX_OVERVIEW_WINDOW_MINUTES = 7 * 24 * 60;
/** The most buckets one overview may have. */
export const MAX_OVERVIEW_BUCKETS = 1440;

/** `GET /v1/overview` query. */
export const overviewQuery = z
  .strictObject({
    window_minutes: z.coerce
      .number()
      .int()
      .min(1)
      .max(MAX_OVERVIEW_WINDOW_MINUTES)
      .default(60)
      .describe('How far back the time series goes, in minutes (1..10080, default 60).'),
    bucket_minutes: z.coerce
      .number()
      .int()
      .min(1)
      .max(MAX_OVERVIEW_WINDOW_MINUTES)
      .optional()
      .describe('Length of one bucket in minutes; by default the window split into at most 60 buckets.'),
  })
  .superRefine((q, ctx) => {
    const bucket = q.bucket_minutes ?? 1;
    if (bucket > q.window_minutes) {
      ctx.addIssue({ code: 'custom', path: ['bucket_minutes'], message: 'must not exceed window_minutes' });
    } else if (q.window_minutes / bucket > MAX_OVERVIEW_BUCKETS) {
      ctx.addIssue({
        code: 'custom',
        path: ['bucket_minutes'],
        message: `the window would have more than ${MAX_OVERVIEW_BUCKETS} buckets; use longer buckets`,
      });
    }
  });
export type OverviewQuery = z.infer<typeof overviewQuery>;

/** `GET /v1/overview` response. */
export const overviewBody = z
  .object({
    window_minutes: z.number().int(),
    bucket_minutes: z.number().int(),
    buckets: z
      .array(
        z.object({
          start: timestamp,
          created: z.number().int(),
          completed: z.number().int(),
          failed: z.number().int().describe('Tasks that ended in `error` in the bucket.'),
          cancelled: z.number().int(),
        }),
      )
      .describe(
        'Oldest first, aligned to multiples of the bucket length since the epoch; the first holds the start of ' +
          'the window, the last is the current, partial one. Completed, failed and cancelled count tasks by when ' +
          'they finished (a task re-run since counts when it finishes again).',
      ),
    tasks_by_state: z
      .record(z.string(), z.number().int())
      .describe('Tasks in each unfinished state and in `error`, zero included.'),
    queue_depths: z.array(
      z.object({
        queue: z.string(),
        depth: z.number().int().describe('Messages in the queue.'),
        visible: z.number().int().describe('Of those, visible now (not held by a worker or delayed).'),
        oldest_age_seconds: z.number(),
      }),
    ),
    dlq_open: z.number().int().describe('Dead-letter entries still pending.'),
  })
  .meta({ id: 'Overview' });
export type OverviewBody = z.infer<typeof overviewBody>;

/** `GET /v1/templates/{namespace}/{name}/runs` query. */
export const templateRunsQuery = z.strictObject({
  version: z.string().min(1).optional().describe('The highest registered version when omitted.'),
  limit: z.coerce.number().int().min(1).max(100).default(25).describe('How many runs, 1..100 (default 25).'),
});
export type TemplateRunsQuery = z.infer<typeof templateRunsQuery>;

/** One cell of the runs grid: a step of a run. */
export const runStepCell = z
  .object({
    step_uuid: uuid.describe('The step; for a batch blueprint, the instance whose state the cell shows.'),
    state: stepState,
    attempts: z.number().int(),
    instances: z
      .number()
      .int()
      .optional()
      .describe(
        "Batch blueprints only: how many instances the run has. The cell shows the most pressing instance's " +
          'state (error, then running, waiting, pending, then finished) and the most attempts any instance made.',
      ),
  })
  .meta({ id: 'RunStepCell' });

/** `GET /v1/templates/{namespace}/{name}/runs` response. */
export const templateRunsBody = z
  .object({
    version: z.string().describe('The template version the runs are of.'),
    steps: z
      .array(z.string())
      .describe("The template's step names in topological order (batch blueprints included)."),
    runs: z
      .array(
        z.object({
          task_uuid: uuid,
          state: taskState,
          created_at: timestamp,
          completed_at: timestamp.nullable(),
          steps: z
            .record(z.string(), runStepCell)
            .describe(
              'Cells by step name; a step the run does not have (a batch not expanded yet) is absent.',
            ),
        }),
      )
      .describe('The latest runs of that version, newest first.'),
  })
  .meta({ id: 'TemplateRuns' });
export type TemplateRunsBody = z.infer<typeof templateRunsBody>;
