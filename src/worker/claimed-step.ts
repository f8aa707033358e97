import type { CheckpointData } from './dynamic.js';
import type { RetryPolicy } from '../templates/types.js';

/** A step this worker has claimed, with everything its handler needs (one row of `tasker.claim_steps`). */
export interface ClaimedStep {
  msgId: string;
  queue: string;
  stepUuid: string;
  taskUuid: string;
  stepName: string;
  handler: string;
  attempt: number;
  maxAttempts: number;
  retryable: boolean;
  retryPolicy: RetryPolicy;
  timeoutMs: number | null;
  inputs: Record<string, unknown>;
  context: Record<string, unknown>;
  namespace: string;
  templateName: string;
  templateVersion: string;
  correlationId: string;
  dependencyResults: Record<string, unknown>;
  /** The last checkpoint a batch worker saved (any attempt), or null. */
  checkpoint: CheckpointData | null;
  /** W3C trace context carried by the step's message; absent when the task is not traced. */
  traceparent?: string | undefined;
  tracestate?: string | undefined;
  /**
   * Started here without a claim, after its parents succeeded here (ADR 0011): it has no message yet (`msgId`
   * is empty) until either its outcome is written with its parents' or a completion write claims it for this
   * worker, which turns it into an ordinary claim.
   */
  chained?: boolean;
}

export interface ClaimRow {
  msg_id: string;
  step_uuid: string;
  task_uuid: string;
  step_name: string;
  handler: string;
  attempt: number;
  max_attempts: number;
  retryable: boolean;
  retry_policy: RetryPolicy;
  timeout_ms: number | null;
  inputs: Record<string, unknown> | null;
  context: Record<string, unknown>;
  namespace: string;
  template_name: string;
  template_version: string;
  correlation_id: string;
  dependency_results: Record<string, unknown>;
  traceparent: string | null;
  tracestate: string | null;
  checkpoint?: CheckpointData | null;
}

export function claimedStepFromRow(queue: string, r: ClaimRow): ClaimedStep {
  return {
    msgId: r.msg_id,
    queue,
    stepUuid: r.step_uuid,
    taskUuid: r.task_uuid,
    stepName: r.step_name,
    handler: r.handler,
    attempt: r.attempt,
    maxAttempts: r.max_attempts,
    retryable: r.retryable,
    retryPolicy: r.retry_policy,
    timeoutMs: r.timeout_ms,
    inputs: r.inputs ?? {},
    context: r.context,
    namespace: r.namespace,
    templateName: r.template_name,
    templateVersion: r.template_version,
    correlationId: r.correlation_id,
    dependencyResults: r.dependency_results,
    checkpoint: r.checkpoint ?? null,
    traceparent: r.traceparent ?? undefined,
    tracestate: r.tracestate ?? undefined,
  };
}

/** The stored form of one attempt's outcome (`workflow_steps.results`). */
export interface StepResultRecord {
  success: boolean;
  result: unknown;
  error?: {
    name: string;
    message: string;
    code?: string;
    retryable: boolean;
    stack?: string;
    retry_after_ms?: number;
  };
  /** For retryable failures: how long the orchestrator waits before the next attempt. */
  retry_delay_ms?: number;
  metadata: {
    attempt: number;
    worker_id: string;
    started_at: string;
    execution_time_ms: number;
  };
}

/** A finished attempt waiting to be written back. */
export interface Completion {
  step: ClaimedStep;
  record: StepResultRecord;
  /** Set when its write sent it as a chained step (complete_steps may refuse it as such). */
  sentChained?: boolean;
}
