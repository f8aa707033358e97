/**
 * Wire schema of one step in detail (`GET /v1/tasks/{task_uuid}/steps/{step_uuid}`): the step, every attempt
 * with its outcome, what it runs with, and its last checkpoint.
 */
import { z } from 'zod';
import { jsonObject, timestamp } from './schemas-common.js';
import { stepBody, stepError } from './schemas-tasks.js';

/** One attempt of a step, derived from its audit trail. */
export const stepAttemptBody = z
  .object({
    attempt: z.number().int().describe('1-based within its run.'),
    run: z
      .number()
      .int()
      .describe(
        '1 for the first run; each operator reset (`reset_for_retry`, `rerun_from`) starts the next, numbered ' +
          'from attempt 1 again.',
      ),
    started_at: timestamp,
    finished_at: timestamp.nullable(),
    outcome: z
      .enum(['running', 'succeeded', 'failed', 'lease_expired', 'released', 'cancelled', 'superseded'])
      .describe(
        '`failed`: the handler failed (retried or for good) or its outcome was invalid; `lease_expired`: the ' +
          'worker stopped answering (the attempt counted); `released`: the worker handed the step back at ' +
          'shutdown (not counted); `superseded`: an operator completed or resolved the step meanwhile.',
      ),
    worker: z.string().nullable().describe('The worker that ran it.'),
    result: z
      .unknown()
      .optional()
      .describe(
        "The handler's result, when stored: for the latest attempt, and for the last attempt before a re-run " +
          "(each attempt overwrites the previous one's, so earlier attempts have none).",
      ),
    error: stepError.optional().describe('The error, when stored (as for `result`).'),
  })
  .meta({ id: 'StepAttempt' });
export type StepAttemptBody = z.infer<typeof stepAttemptBody>;

/** A step with its attempts and what it runs with. */
export const stepDetailBody = stepBody
  .extend({
    attempt_history: z
      .array(stepAttemptBody)
      .describe('Every attempt, oldest first (by run, then attempt). `attempts` stays the current count.'),
    inputs: jsonObject.describe("The step's inputs (template `inputs`; `__batch` for a batch instance)."),
    dependency_results: jsonObject.describe(
      "The results of the step's ancestors by step name, as its handler receives them (skipped ones left " +
        'out; a tolerated batch failure as `{ __failed: true, error }`), as they are now.',
    ),
    checkpoint: jsonObject
      .nullable()
      .describe('The last checkpoint a batch worker saved (`cursor`, its own keys, `attempt`, `saved_at`).'),
  })
  .meta({ id: 'StepDetail' });
export type StepDetailBody = z.infer<typeof stepDetailBody>;
