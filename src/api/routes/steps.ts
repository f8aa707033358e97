/** Step routes: read the steps of a task, their audit trails, and operator actions on them. */
import { STEP_ACTIONS } from '../../contract/names.js';
import {
  applyStepAction,
  getStep,
  requireTask,
  stepTransitions,
  taskTransitions,
  type StepAction,
} from '../../orchestration/operations.js';
import { deriveAttempts, stepInputs } from '../../orchestration/step-attempts.js';
import { seesStacks } from '../redact.js';
import { defineRoute, type ApiContext, type ApiRoute } from '../route.js';
import {
  errorBody,
  stepActionBody,
  stepBody as stepSchema,
  stepDetailBody as stepDetailSchema,
  stepListBody,
  stepParams,
  taskParams,
  transitionListBody,
  type StepActionBody,
} from '../schemas.js';
import { stepBody, stepDetailBody, transitionBody } from '../views.js';

/** The wire's `action_type` (the HTTP API's own names) to the action apply_step_action takes. */
function toAction(body: StepActionBody, by: string): StepAction {
  switch (body.action_type) {
    case 'complete_manually':
      return { action: STEP_ACTIONS.CompleteManually, reason: body.reason, by, result: body.result };
    case 'reset_for_retry':
      return { action: STEP_ACTIONS.ResetForRetry, reason: body.reason, by };
    case 'resolve_manually':
      return { action: STEP_ACTIONS.ResolveManually, reason: body.reason, by };
    case 'rerun_from':
      return { action: 'rerun_from', reason: body.reason, by };
  }
}

const notFound = {
  status: 404,
  description: 'No such task or step (`TASK_NOT_FOUND`, `STEP_NOT_FOUND`).',
  schema: errorBody,
};

/** The step routes. */
export function stepRoutes(ctx: ApiContext): ApiRoute[] {
  return [
    defineRoute({
      method: 'GET',
      url: '/v1/tasks/:task_uuid/steps',
      operationId: 'listSteps',
      summary: 'The steps of a task, in template order, with their readiness.',
      tag: 'steps',
      permission: 'steps:read',
      params: taskParams,
      responses: [
        { status: 200, description: 'The steps.', schema: stepListBody },
        { status: 404, description: 'No such task (`TASK_NOT_FOUND`).', schema: errorBody },
      ],
      async handle({ params, principal }) {
        const task = await requireTask(ctx.pool, params.task_uuid);
        const stacks = seesStacks(principal);
        return { items: task.steps.map((s) => stepBody(task.taskUuid, s, stacks)) };
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/v1/tasks/:task_uuid/steps/:step_uuid',
      operationId: 'getStep',
      summary: 'One step of a task, with every attempt, its inputs and its last checkpoint.',
      description:
        'Attempts are derived from the audit trail; results and errors are stored for the latest attempt (and ' +
        "the last one before a re-run) only, since each attempt overwrites the step's results.",
      tag: 'steps',
      permission: 'steps:read',
      params: stepParams,
      responses: [{ status: 200, description: 'The step.', schema: stepDetailSchema }, notFound],
      async handle({ params, principal }) {
        const step = await getStep(ctx.pool, params.task_uuid, params.step_uuid);
        const [trail, inputs] = await Promise.all([
          taskTransitions(ctx.pool, params.task_uuid, params.step_uuid),
          stepInputs(ctx.pool, params.task_uuid, params.step_uuid),
        ]);
        const stacks = seesStacks(principal);
        return stepDetailBody(params.task_uuid, step, deriveAttempts(trail, inputs.results), inputs, stacks);
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/v1/tasks/:task_uuid/steps/:step_uuid/transitions',
      operationId: 'listStepTransitions',
      summary: "A step's audit trail, oldest first.",
      tag: 'steps',
      permission: 'steps:read',
      params: stepParams,
      responses: [
        { status: 200, description: 'Transitions, oldest first.', schema: transitionListBody },
        notFound,
      ],
      async handle({ params }) {
        const transitions = await stepTransitions(ctx.pool, params.task_uuid, params.step_uuid);
        return { items: transitions.map(transitionBody) };
      },
    }),
    defineRoute({
      method: 'PATCH',
      url: '/v1/tasks/:task_uuid/steps/:step_uuid',
      operationId: 'applyStepAction',
      summary:
        'Operator action on a step: reset it for retry, resolve it manually, complete it with a result, or ' +
        're-run the task from it.',
      description:
        'The action and the re-evaluation of the task happen in one transaction, so a blocked or failed task ' +
        'resumes. `by` defaults to the authenticated principal. `rerun_from` re-runs a complete, resolved, ' +
        'failed, blocked or retry-waiting task from the step: the step and its transitive dependents go back to ' +
        '`pending` (the step is enqueued at once when its parents are done), batch instances of a batchable ' +
        'step among them are removed (it expands again), steps skipped from above stay skipped, the other ' +
        'steps keep their results, and an open dead-letter entry is closed. It is refused (409) for a cancelled ' +
        'or still running task and while a step below is running.',
      tag: 'steps',
      permission: 'steps:resolve',
      params: stepParams,
      body: { kind: 'json', schema: stepActionBody },
      responses: [
        { status: 200, description: 'The step after the action.', schema: stepSchema },
        notFound,
        {
          status: 409,
          description:
            "The action is not allowed in the step's or the task's state, or a step below a re-run is running " +
            '(`INVALID_TRANSITION`).',
          schema: errorBody,
        },
      ],
      async handle({ params, body, principal }) {
        await applyStepAction(
          ctx.pool,
          params.task_uuid,
          params.step_uuid,
          toAction(body, body.by ?? principal.name),
          ctx.processorId,
        );
        const step = await getStep(ctx.pool, params.task_uuid, params.step_uuid);
        return stepBody(params.task_uuid, step, seesStacks(principal));
      },
    }),
  ];
}
