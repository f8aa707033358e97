/**
 * Reads the web dashboard makes beyond the task, step and template resources: who the caller is (to validate a
 * key at sign-in and to hide what the caller may not do), the overview, and a template's recent runs by step.
 */
import { taskOverview } from '../../orchestration/overview.js';
import { templateRuns } from '../../orchestration/template-runs.js';
import { defineRoute, type ApiContext, type ApiRoute } from '../route.js';
import {
  errorBody,
  overviewBody,
  overviewQuery,
  templateParams,
  templateRunsBody,
  templateRunsQuery,
  whoamiBody,
  type OverviewBody,
  type TemplateRunsBody,
  type WhoamiBody,
} from '../schemas.js';

/** The overview's default bucket: the window in at most 60 buckets. */
function defaultBucketMinutes(windowMinutes: number): number {
  return Math.max(1, Math.ceil(windowMinutes / 60));
}

/** The dashboard's read routes. */
export function dashboardRoutes(ctx: ApiContext): ApiRoute[] {
  return [
    defineRoute({
      method: 'GET',
      url: '/v1/whoami',
      operationId: 'whoami',
      summary: 'Who the caller is and what it may do.',
      description:
        'Any valid credentials; no permission needed. With authentication off: `anonymous`, method `none`, ' +
        'permissions `["*"]`.',
      tag: 'meta',
      permission: 'authenticated',
      responses: [{ status: 200, description: 'The caller.', schema: whoamiBody }],
      handle({ principal }): Promise<WhoamiBody> {
        return Promise.resolve({
          name: principal.name,
          method: principal.method,
          permissions: [...principal.permissions].sort(),
        });
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/v1/overview',
      operationId: 'overview',
      summary:
        'Tasks created, completed and failed over time, tasks by state, queue depths and open dead letters.',
      description:
        'For the health of circuit breakers, channels and the pool, read `GET /health` (permission ' +
        '`system:read`).',
      tag: 'dashboard',
      permission: 'tasks:read',
      query: overviewQuery,
      responses: [{ status: 200, description: 'The overview.', schema: overviewBody }],
      async handle({ query }): Promise<OverviewBody> {
        const bucket = query.bucket_minutes ?? defaultBucketMinutes(query.window_minutes);
        const o = await taskOverview(ctx.pool, query.window_minutes, bucket);
        return {
          window_minutes: o.windowMinutes,
          bucket_minutes: o.bucketMinutes,
          buckets: o.buckets.map((b) => ({ ...b, start: b.start.toISOString() })),
          tasks_by_state: o.tasksByState,
          queue_depths: o.queueDepths.map((q) => ({
            queue: q.queue,
            depth: q.depth,
            visible: q.visible,
            oldest_age_seconds: q.oldestAgeSeconds,
          })),
          dlq_open: o.dlqOpen,
        };
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/v1/templates/:namespace/:name/runs',
      operationId: 'listTemplateRuns',
      summary: "A template's latest runs with the state of each of their steps (a runs-by-steps grid).",
      tag: 'templates',
      permission: 'tasks:read',
      params: templateParams,
      query: templateRunsQuery,
      responses: [
        { status: 200, description: 'The runs, newest first.', schema: templateRunsBody },
        {
          status: 404,
          description: 'No such template or version (`TEMPLATE_NOT_FOUND`).',
          schema: errorBody,
        },
      ],
      async handle({ params, query }): Promise<TemplateRunsBody> {
        const r = await templateRuns(ctx.pool, params.namespace, params.name, {
          ...(query.version ? { version: query.version } : {}),
          limit: query.limit,
        });
        return {
          version: r.version,
          steps: r.steps,
          runs: r.runs.map((run) => ({
            task_uuid: run.taskUuid,
            state: run.state,
            created_at: run.createdAt.toISOString(),
            completed_at: run.completedAt === null ? null : run.completedAt.toISOString(),
            steps: Object.fromEntries(
              Object.entries(run.steps).map(([name, c]) => [
                name,
                {
                  step_uuid: c.stepUuid,
                  state: c.state,
                  attempts: c.attempts,
                  ...(c.instances === undefined ? {} : { instances: c.instances }),
                },
              ]),
            ),
          })),
        };
      },
    }),
  ];
}
