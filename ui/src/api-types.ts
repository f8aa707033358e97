/**
 * Wire types the dashboard reads, from the server's own schemas (type-only imports, so nothing server-side is
 * bundled and a change of the wire format fails the dashboard's type check).
 */
import type { OverviewBody, TemplateRunsBody } from '../../src/api/schemas.js';

export type {
  DagBody,
  DlqEntryBody,
  DlqListBody,
  HealthBody,
  StepBody,
  StepErrorBody,
  TaskBody,
  TaskListBody,
  TaskSummaryBody,
  TemplateDetailBody,
  TemplateStepBody,
  TemplateSummaryBody,
  TransitionBody,
  StepDetailBody,
  StepAttemptBody as StepAttempt,
} from '../../src/api/schemas.js';
export type { StepState, TaskState } from '../../src/state/index.js';

/** The filter of a bulk action (the `GET /v1/tasks` filters as JSON), its request and its answer. */
export type {
  BulkTaskFilterBody as TaskFilterBody,
  BulkTaskActionBody as BulkActionBody,
  BulkTaskResultBody as BulkActionResult,
} from '../../src/api/schemas.js';

/** Who the credentials belong to (`GET /v1/whoami`), the overview, and a template's runs by step. */
export type { WhoamiBody as WhoAmI, OverviewBody, TemplateRunsBody } from '../../src/api/schemas.js';

/** One time bucket of `GET /v1/overview`. */
export type OverviewBucket = OverviewBody['buckets'][number];
/** One run (task) of a template, as the runs grid reads it. */
export type TemplateRun = TemplateRunsBody['runs'][number];
/** A step of one run. */
export type RunStepCell = TemplateRun['steps'][string];
