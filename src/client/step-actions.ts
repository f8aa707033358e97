/**
 * The operator actions on a step (`PATCH /v1/tasks/{task}/steps/{step}`), as methods of {@link TaskerClient},
 * which extends this class; kept apart so each file reads at once.
 */
import type { StepActionBody, StepBody } from '../api/schemas.js';
import { seg, Transport } from './transport.js';
import type { CallOptions, ManualResult, StepActionOptions, TaskerClientOptions } from './types.js';

/** The base of {@link TaskerClient}: its transport and the step actions. Use `TaskerClient`. */
export class StepActionsClient {
  /** How requests are sent and retried. */
  protected readonly transport: Transport;

  constructor(options: TaskerClientOptions) {
    this.transport = new Transport(options);
  }

  /**
   * Applies an operator action to a step and returns the step afterwards. Never retried automatically.
   * Throws {@link TaskerConflictError} when the action is not allowed in the step's or task's state.
   */
  async stepAction(
    taskUuid: string,
    stepUuid: string,
    action: StepActionBody,
    options: CallOptions = {},
  ): Promise<StepBody> {
    const res = await this.transport.request({
      method: 'PATCH',
      path: `v1/tasks/${seg(taskUuid)}/steps/${seg(stepUuid)}`,
      json: action,
      idempotent: false,
      signal: options.signal,
    });
    return res.body as StepBody;
  }

  /** Puts a failed step back to run again (attempts start over); its task resumes. */
  resetForRetry(
    taskUuid: string,
    stepUuid: string,
    action: StepActionOptions,
    options: CallOptions = {},
  ): Promise<StepBody> {
    return this.stepAction(taskUuid, stepUuid, { action_type: 'reset_for_retry', ...action }, options);
  }

  /** Marks a step resolved by hand, without a result; its dependents may run. */
  resolveManually(
    taskUuid: string,
    stepUuid: string,
    action: StepActionOptions,
    options: CallOptions = {},
  ): Promise<StepBody> {
    return this.stepAction(taskUuid, stepUuid, { action_type: 'resolve_manually', ...action }, options);
  }

  /**
   * Runs a finished step and everything below it again (each a new run, attempts starting over); the other steps
   * keep their results. Throws {@link TaskerConflictError} unless the step is complete, resolved or failed, or
   * while a step below it is running.
   */
  rerunFrom(
    taskUuid: string,
    stepUuid: string,
    action: StepActionOptions,
    options: CallOptions = {},
  ): Promise<StepBody> {
    return this.stepAction(taskUuid, stepUuid, { action_type: 'rerun_from', ...action }, options);
  }

  /** Completes a step by hand with `result` (any JSON value) as its result; its dependents see it. */
  completeManually(
    taskUuid: string,
    stepUuid: string,
    result: ManualResult,
    action: StepActionOptions,
    options: CallOptions = {},
  ): Promise<StepBody> {
    return this.stepAction(
      taskUuid,
      stepUuid,
      { action_type: 'complete_manually', result, ...action },
      options,
    );
  }
}
