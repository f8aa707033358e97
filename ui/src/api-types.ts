/**
 * Wire types the dashboard reads. The existing resources come from the server's own schemas (type-only imports,
 * so nothing server-side is bundled); the dashboard-specific endpoints are declared here, as documented in
 * docs/api.md.
 */
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
} from '../../src/api/schemas.js';
export type { StepState, TaskState } from '../../src/state/index.js';

/** `GET /v1/whoami`: who the credentials belong to and what they may do (`*` = everything). */
export interface WhoAmI {
  name: string;
  method: 'api_key' | 'jwt' | 'none';
  permissions: string[];
}

/** The filter of a bulk action (the `GET /v1/tasks` filters as JSON), its request and its answer. */
export type {
  BulkTaskFilterBody as TaskFilterBody,
  BulkTaskActionBody as BulkActionBody,
  BulkTaskResultBody as BulkActionResult,
} from '../../src/api/schemas.js';

/** One bucket of `GET /v1/overview`. */
export interface OverviewBucket {
  start: string;
  created: number;
  completed: number;
  failed: number;
}

/** `GET /v1/overview`. */
export interface OverviewBody {
  buckets: OverviewBucket[];
  tasks_by_state: Record<string, number>;
  queue_depths: { queue: string; depth: number }[];
  dlq_open: number;
}

/** A step of one run in `GET /v1/templates/{ns}/{name}/runs`. */
export interface RunStepCell {
  step_uuid: string;
  state: string;
  attempts: number;
}

/** One run (task) of a template. */
export interface TemplateRun {
  task_uuid: string;
  state: string;
  created_at: string;
  completed_at: string | null;
  steps: Record<string, RunStepCell>;
}

/** `GET /v1/templates/{ns}/{name}/runs`: step names in topological order and the recent runs. */
export interface TemplateRunsBody {
  steps: string[];
  runs: TemplateRun[];
}

/** One attempt of a step, when the server reports them (`GET .../steps/{step_uuid}` `attempts`). */
export interface StepAttempt {
  attempt: number;
  started_at: string | null;
  finished_at: string | null;
  outcome: string | null;
  error?: { message: string; name?: string; code?: string; stack?: string } | null;
  result?: unknown;
}
