/**
 * Chains of steps run locally (ADR 0011). When a step succeeds here, the dependents whose parents all succeeded
 * here start at once, without a claim: the worker knows their definitions (the templates it was given), their
 * uuids (derived from the task's, see {@link stepUuidFor}) and their ancestors' results (in memory). Their
 * successes are written with their parents' results, marked `chained`, and complete_steps starts and settles
 * them in the same transaction, so a chain of quick steps costs one transaction instead of one per step.
 *
 * What the database refuses (a parent's attempt was stale, the task stopped running, a result in the batch
 * failed) is dropped here, and the step runs again the usual way, claimed. Only standard steps of templates with
 * nothing but standard steps chain: decisions, batches and convergence need the orchestration's view.
 */
import type { TaskerConfig } from '../config/index.js';
import { stepUuidFor } from '../contract/step-uuid.js';
import { templateKey, type StepDefinition, type TaskTemplate } from '../templates/types.js';
import type { BoundedChannel } from '../channels/index.js';
import type { ClaimedStep, Completion, StepResultRecord } from './claimed-step.js';
import type { HandlerRegistry } from './handler.js';
import { inFlightKey, type InFlightSteps } from './in-flight.js';
import type { WorkerStats } from './worker-stats.js';

/** A template whose steps can chain: its step definitions and each step's children. */
interface ChainableTemplate {
  steps: ReadonlyMap<string, StepDefinition>;
  children: ReadonlyMap<string, readonly string[]>;
}

/** What this worker knows of one task's steps that succeeded here. */
interface TaskMemory {
  /** Step name → its result and the results of its ancestors (what its dependents inherit). */
  succeeded: Map<string, { result: unknown; ancestors: Record<string, unknown> }>;
  /** Steps started here by chaining (never started twice). */
  started: Set<string>;
}

/** Tasks remembered at most; the oldest are forgotten first (they only lose the chance to chain). */
const MAX_TASKS = 1024;

/** Decides which dependents of a step that just succeeded start here at once, and builds their claims. */
export class LocalChains {
  readonly #templates = new Map<string, ChainableTemplate>();
  readonly #registry: HandlerRegistry;
  readonly #tasks = new Map<string, TaskMemory>();
  /** Failures of chained steps waiting for their step to be claimed here, by in-flight key. */
  readonly #held = new Map<string, { completion: Completion; parents: string[] }>();

  constructor(templates: readonly TaskTemplate[], registry: HandlerRegistry) {
    this.#registry = registry;
    for (const t of templates) {
      if (!t.steps.every((s) => s.type === 'standard')) continue;
      const children = new Map<string, string[]>(t.steps.map((s) => [s.name, []]));
      for (const s of t.steps) for (const p of s.dependsOn) children.get(p)?.push(s.name);
      this.#templates.set(templateKey(t), {
        steps: new Map(t.steps.map((s) => [s.name, s])),
        children,
      });
    }
  }

  /** Whether any template given to this worker can chain (otherwise nothing is remembered). */
  get enabled(): boolean {
    return this.#templates.size > 0;
  }

  /** Tasks remembered now (for tests and stats). */
  get rememberedTasks(): number {
    return this.#tasks.size;
  }

  /**
   * `step` succeeded with `record`: remembers its result and returns the dependents that may start now (at most
   * `capacity`), as claims marked `chained` (no message; attempt 1).
   */
  next(step: ClaimedStep, record: StepResultRecord, capacity: number): ClaimedStep[] {
    const template = this.#templates.get(
      templateKey({ namespace: step.namespace, name: step.templateName, version: step.templateVersion }),
    );
    if (!template || !record.success) return [];
    // A task created before step uuids were derived (or a step created later) has uuids of its own: its
    // dependents' uuids cannot be known here. (A chained step's uuid was derived here.)
    if (!step.chained && step.stepUuid !== stepUuidFor(step.taskUuid, step.stepName)) return [];
    const memory = this.#memoryOf(step.taskUuid);
    memory.succeeded.set(step.stepName, { result: record.result, ancestors: step.dependencyResults });
    const ready: ClaimedStep[] = [];
    for (const child of template.children.get(step.stepName) ?? []) {
      if (ready.length >= capacity) break;
      const def = template.steps.get(child);
      if (!def || memory.started.has(child) || !this.#registry.has(def.handler)) continue;
      if (!def.dependsOn.every((p) => memory.succeeded.has(p))) continue;
      memory.started.add(child);
      ready.push(this.#claimOf(step, def, memory));
    }
    return ready;
  }

  /**
   * A chained step failed. Its failure is not written as chained: written with its parent's success, it would
   * be resolved before the parent released its siblings. It waits until a completion claims the step here
   * (the parent's, usually), then goes out as the claimed attempt's outcome (see {@link flushHeld}).
   */
  hold(c: Completion): void {
    const key = templateKey({
      namespace: c.step.namespace,
      name: c.step.templateName,
      version: c.step.templateVersion,
    });
    const def = this.#templates.get(key)?.steps.get(c.step.stepName);
    const parents = (def?.dependsOn ?? []).map((p) => stepUuidFor(c.step.taskUuid, p));
    this.#held.set(inFlightKey(c.step), { completion: c, parents });
  }

  /**
   * Held failures whose step was claimed here meanwhile are sent as ordinary outcomes; those whose parents are
   * all written (none in flight here) without claiming the step are dropped: the step runs again, claimed.
   * Returns how many were dropped.
   */
  flushHeld(inFlight: InFlightSteps, send: (c: Completion) => void): number {
    let dropped = 0;
    for (const [key, { completion, parents }] of this.#held) {
      if (!completion.step.chained) {
        this.#held.delete(key);
        send(completion);
      } else if (!parents.some((p) => inFlight.hasStep(p))) {
        this.#held.delete(key);
        inFlight.delete(completion.step);
        dropped += 1;
      }
    }
    if (dropped > 0) inFlight.syncStats();
    return dropped;
  }

  /** Failures held now. */
  get heldFailures(): number {
    return this.#held.size;
  }

  /** Forgets a task (no step of it is in flight here any more: nothing of it can chain). */
  forget(taskUuid: string): void {
    this.#tasks.delete(taskUuid);
  }

  #memoryOf(taskUuid: string): TaskMemory {
    let memory = this.#tasks.get(taskUuid);
    if (!memory) {
      if (this.#tasks.size >= MAX_TASKS) this.#tasks.delete(this.#tasks.keys().next().value!);
      memory = { succeeded: new Map(), started: new Set() };
      this.#tasks.set(taskUuid, memory);
    }
    return memory;
  }

  /** The claim a chained step runs with: what claimed_step_contexts would return once it is claimed. */
  #claimOf(parent: ClaimedStep, def: StepDefinition, memory: TaskMemory): ClaimedStep {
    const dependencyResults: Record<string, unknown> = {};
    for (const p of def.dependsOn) {
      const done = memory.succeeded.get(p)!;
      Object.assign(dependencyResults, done.ancestors);
      // as the database hands it over: JSON, with an absent result as null
      dependencyResults[p] = JSON.parse(JSON.stringify(done.result ?? null)) as unknown;
    }
    return {
      msgId: '',
      queue: parent.queue,
      stepUuid: stepUuidFor(parent.taskUuid, def.name),
      taskUuid: parent.taskUuid,
      stepName: def.name,
      handler: def.handler,
      attempt: 1,
      maxAttempts: def.retry.maxAttempts,
      retryable: def.retry.retryable,
      retryPolicy: def.retry,
      timeoutMs: def.timeoutMs ?? null,
      inputs: def.inputs,
      context: parent.context,
      namespace: parent.namespace,
      templateName: parent.templateName,
      templateVersion: parent.templateVersion,
      correlationId: parent.correlationId,
      dependencyResults,
      checkpoint: null,
      traceparent: parent.traceparent,
      tracestate: parent.tracestate,
      chained: true,
    };
  }
}

/**
 * The worker's chains, or undefined when they are off: `worker.chain_local_steps` needs the one-transaction
 * path (`worker.resolve_in_completion`) and a template given to the worker whose steps can chain.
 */
export function localChains(
  config: TaskerConfig,
  templates: readonly TaskTemplate[],
  registry: HandlerRegistry,
): LocalChains | undefined {
  if (!config.worker.resolve_in_completion || !config.worker.chain_local_steps) return undefined;
  const chains = new LocalChains(templates, registry);
  return chains.enabled ? chains : undefined;
}

/** Sends or drops the held failures of chained steps that can go now (see {@link LocalChains.flushHeld}). */
export function flushHeldFailures(o: {
  chains: LocalChains | undefined;
  inFlight: InFlightSteps;
  completions: BoundedChannel<Completion>;
  stats: WorkerStats;
}): void {
  if (!o.chains || o.chains.heldFailures === 0) return;
  o.stats.chainedRefused += o.chains.flushHeld(o.inFlight, (c) => {
    o.completions.send(c).catch(() => o.inFlight.delete(c.step));
  });
}
