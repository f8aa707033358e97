/**
 * Conversions from engine views (camelCase, `Date`) to wire bodies (snake_case, ISO strings). Kept apart from
 * the routes so every route renders a given entity the same way.
 */
import type {
  DlqEntry,
  StepView,
  TaskSummary,
  TaskView,
  TemplateDefinitionDocument,
  TemplateSummary,
  TransitionView,
} from '../orchestration/operations.js';
import type { TaskTemplate } from '../templates/types.js';
import type {
  DagBody,
  DlqEntryBody,
  StepBody,
  TaskBody,
  TaskSummaryBody,
  TemplateDefinitionBody,
  TemplateStepBody,
  TemplateSummaryBody,
  TransitionBody,
} from './schemas.js';

import type { StepAttempt, StepInputs } from '../orchestration/step-attempts.js';
import type { StepAttemptBody, StepDetailBody } from './schemas.js';
import { snapshotWithoutStack, withoutStack } from './redact.js';

const iso = (d: Date): string => d.toISOString();
const isoOrNull = (d: Date | null): string | null => (d === null ? null : d.toISOString());

/**
 * A step of `task` on the wire. `stacks`: whether the caller may see error stacks (`seesStacks` in redact.ts).
 */
export function stepBody(taskUuid: string, s: StepView, stacks: boolean): StepBody {
  return {
    step_uuid: s.stepUuid,
    task_uuid: taskUuid,
    name: s.name,
    handler: s.handler,
    state: s.state,
    type: s.type,
    attempts: s.attempts,
    max_attempts: s.maxAttempts,
    depends_on: s.dependsOn,
    readiness: s.readiness,
    result: s.result ?? null,
    error: s.error && !stacks ? withoutStack(s.error) : s.error,
    next_retry_at: isoOrNull(s.nextRetryAt),
    processed_at: isoOrNull(s.processedAt),
  };
}

/** An attempt of a step on the wire; `stacks` as for {@link stepBody}. */
export function stepAttemptBody(a: StepAttempt, stacks: boolean): StepAttemptBody {
  return {
    attempt: a.attempt,
    run: a.run,
    started_at: iso(a.startedAt),
    finished_at: isoOrNull(a.finishedAt),
    outcome: a.outcome,
    worker: a.worker,
    ...('result' in a ? { result: a.result } : {}),
    ...(a.error ? { error: stacks ? a.error : withoutStack(a.error) } : {}),
  };
}

/** A step with its attempts and what it runs with, on the wire; `stacks` as for {@link stepBody}. */
export function stepDetailBody(
  taskUuid: string,
  s: StepView,
  attempts: readonly StepAttempt[],
  inputs: StepInputs,
  stacks: boolean,
): StepDetailBody {
  return {
    ...stepBody(taskUuid, s, stacks),
    attempt_history: attempts.map((a) => stepAttemptBody(a, stacks)),
    inputs: inputs.inputs,
    dependency_results: inputs.dependencyResults,
    checkpoint: inputs.checkpoint,
  };
}

/** A task with its steps on the wire; `stacks` as for {@link stepBody}. */
export function taskBody(t: TaskView, stacks: boolean): TaskBody {
  return {
    task_uuid: t.taskUuid,
    namespace: t.namespace,
    name: t.name,
    version: t.version,
    state: t.state,
    context: t.context,
    priority: t.priority,
    tags: t.tags,
    correlation_id: t.correlationId,
    parent_correlation_id: t.parentCorrelationId,
    initiator: t.initiator,
    source_system: t.sourceSystem,
    reason: t.reason,
    steps_total: t.stepsTotal,
    steps_remaining: t.stepsRemaining,
    error: t.error
      ? {
          step_uuid: t.error.stepUuid,
          step_name: t.error.stepName,
          error: t.error.error && !stacks ? withoutStack(t.error.error) : t.error.error,
        }
      : null,
    created_at: iso(t.createdAt),
    updated_at: iso(t.updatedAt),
    completed_at: isoOrNull(t.completedAt),
    steps: t.steps.map((s) => stepBody(t.taskUuid, s, stacks)),
  };
}

/** A task in a listing on the wire. */
export function taskSummaryBody(t: TaskSummary): TaskSummaryBody {
  return {
    task_uuid: t.taskUuid,
    namespace: t.namespace,
    name: t.name,
    version: t.version,
    state: t.state,
    priority: t.priority,
    tags: t.tags,
    correlation_id: t.correlationId,
    steps_total: t.stepsTotal,
    steps_remaining: t.stepsRemaining,
    created_at: iso(t.createdAt),
    completed_at: isoOrNull(t.completedAt),
  };
}

/** A transition on the wire (also the `data` of an SSE `transition` event). */
export function transitionBody(t: TransitionView): TransitionBody {
  return {
    key: t.key,
    entity: t.entity,
    task_uuid: t.taskUuid,
    step_uuid: t.stepUuid,
    step_name: t.stepName,
    from_state: t.fromState,
    to_state: t.toState,
    event: t.event,
    sort_key: t.sortKey,
    metadata: t.metadata,
    processor: t.processor,
    created_at: iso(t.createdAt),
  };
}

/** A template in a listing on the wire. */
export function templateSummaryBody(t: TemplateSummary): TemplateSummaryBody {
  return {
    template_uuid: t.templateUuid,
    namespace: t.namespace,
    name: t.name,
    version: t.version,
    description: t.description,
    identity_strategy: t.identityStrategy,
    step_count: t.stepCount,
    created_at: iso(t.createdAt),
  };
}

function num(v: unknown, fallback: number): number {
  return typeof v === 'number' ? v : fallback;
}

type StoredStep = TemplateDefinitionDocument['steps'][number] & { type?: string };

/** A stored or parsed template step on the wire; retry keys become snake_case. */
export function templateStepBody(s: StoredStep | TaskTemplate['steps'][number]): TemplateStepBody {
  const retry = s.retry as unknown as Record<string, unknown>;
  return {
    name: s.name,
    description: s.description ?? null,
    handler: s.handler,
    type: ('type' in s && typeof s.type === 'string' ? s.type : undefined) ?? 'standard',
    depends_on: s.dependsOn,
    retry: {
      retryable: retry.retryable !== false,
      max_attempts: num(retry.maxAttempts, 1),
      backoff_base_ms: num(retry.backoffBaseMs, 0),
      backoff_multiplier: num(retry.backoffMultiplier, 1),
      max_backoff_ms: num(retry.maxBackoffMs, 0),
      jitter: num(retry.jitter, 0),
    },
    timeout_ms: s.timeoutMs ?? null,
    inputs: s.inputs,
  };
}

/** The dependency graph of a list of steps: nodes in step order, one edge per dependency. */
export function dagOf(steps: readonly { name: string; dependsOn: readonly string[] }[]): DagBody {
  return {
    nodes: steps.map((s) => s.name),
    edges: steps.flatMap((s) => s.dependsOn.map((d): [string, string] => [d, s.name])),
  };
}

/** A parsed (not necessarily registered) template on the wire. */
export function templateDefinitionBody(t: TaskTemplate): TemplateDefinitionBody {
  return {
    namespace: t.namespace,
    name: t.name,
    version: t.version,
    description: t.description ?? null,
    identity_strategy: t.identityStrategy ?? 'always_unique',
    steps: t.steps.map(templateStepBody),
    dag: dagOf(t.steps),
  };
}

/** A dead-letter entry on the wire; `stacks` as for {@link stepBody} (the snapshot holds the step error). */
export function dlqEntryBody(e: DlqEntry, stacks: boolean): DlqEntryBody {
  return {
    dlq_entry_uuid: e.dlqEntryUuid,
    task_uuid: e.taskUuid,
    original_state: e.originalState,
    reason: e.reason,
    resolution_status: e.resolutionStatus,
    resolution_notes: e.resolutionNotes,
    resolved_by: e.resolvedBy,
    resolved_at: isoOrNull(e.resolvedAt),
    task_snapshot: stacks ? e.taskSnapshot : snapshotWithoutStack(e.taskSnapshot),
    created_at: iso(e.createdAt),
    updated_at: iso(e.updatedAt),
  };
}
