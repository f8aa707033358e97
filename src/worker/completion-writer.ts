/**
 * The last stage of the step's path: takes outcomes from the completion channel, writes them in batches
 * (`tasker.complete_steps`, one transaction each, retried while the leases last), and only then publishes the
 * results' fast domain events, records metrics and reports each finished step.
 */
import type { Logger } from 'pino';
import { Semaphore, type BoundedChannel } from '../channels/index.js';
import type { TaskerConfig } from '../config/index.js';
import { mapDbError } from '../db/errors.js';
import type { Queryable } from '../db/pool.js';
import { TransitionConflictError } from '../errors.js';
import type { EventDeclarationCache } from '../events/declarations.js';
import type { DomainEventSystem } from '../events/event-system.js';
import { buildStepEvents, type EventPublisherDefinition } from '../events/publisher.js';
import { toEventMessage, type DomainEvent } from '../events/types.js';
import type { FinalizedTaskGroup, TaskMetrics } from '../observability/task-metrics.js';
import type { WorkerMetrics } from '../observability/worker-metrics.js';
import { WriteHealth } from '../resilience/write-health.js';
import type { ClaimLoop } from './claim-loop.js';
import type { ClaimRow, Completion } from './claimed-step.js';
import { inFlightKey, type InFlightSteps } from './in-flight.js';
import { flushHeldFailures, type LocalChains } from './local-chain.js';
import type { StepFinishedEvent, WorkerStats } from './worker-stats.js';

export interface CompletionWriterOptions {
  config: TaskerConfig;
  /** Breaker-guarded connection of the completion pool (its own pool and statement timeout). */
  db: Queryable;
  workerId: string;
  logger: Logger;
  inFlight: InFlightSteps;
  stats: WorkerStats;
  metrics: WorkerMetrics;
  taskMetrics: TaskMetrics;
  events: DomainEventSystem;
  eventDeclarations: EventDeclarationCache;
  eventPublishers: ReadonlyMap<string, EventPublisherDefinition>;
  onStepFinished: ((e: StepFinishedEvent) => void) | undefined;
  completions: BoundedChannel<Completion>;
  /** Called when written outcomes freed capacity (the claim loop may claim again). */
  onCapacityFreed: () => void;
  /**
   * Where the dependents a write claims for this worker go (`worker.resolve_in_completion`): complete_steps
   * resolves the results and claims the released steps of the claim loop's queues within its free capacity.
   */
  claims: ClaimLoop;
  /** The worker's chains (`worker.chain_local_steps`): tasks with nothing left here are forgotten. */
  chains: LocalChains | undefined;
}

/** A completion batch ready for complete_steps, with the domain events of each result. */
interface CompletionPayload {
  payload: string;
  events: Map<string, { durable: number; fast: DomainEvent[] }> | undefined;
}

interface CompleteStepsRow {
  step_uuid: string;
  attempt: number;
  applied: boolean;
  finalized: FinalizedTaskGroup[] | null;
  /** On the first row: the steps this write claimed for the worker (claim_steps rows as JSON), or null. */
  claimed: ClaimRow[] | null;
}

/** Writes step outcomes back with at most `worker.max_concurrent_completions` batches in flight. */
export class CompletionWriter {
  readonly #o: CompletionWriterOptions;
  readonly #slots: Semaphore;
  readonly #writes = new Set<Promise<unknown>>();
  /** Whether completion writes get through (`/health` degraded after repeated failures). */
  readonly #health: WriteHealth;
  #loop: Promise<void> | undefined;

  constructor(options: CompletionWriterOptions) {
    this.#o = options;
    this.#slots = new Semaphore(options.config.worker.max_concurrent_completions);
    this.#health = new WriteHealth(
      'step completion writes',
      options.config.common.health.degraded_after_failed_writes,
    );
  }

  /** Why completion writes count as degraded (repeated failures), if they do. */
  get degradedReason(): string | undefined {
    return this.#health.degradedReason;
  }

  /** Batch writes still running (for shutdown to wait on). */
  get pendingWrites(): Iterable<Promise<unknown>> {
    return this.#writes;
  }

  /** Starts the completion loop (it ends when {@link CompletionWriter.stop} closes the channel). */
  start(): void {
    this.#loop = this.#run();
  }

  /** Closes the channel and waits until every queued outcome has been handed to a write. */
  async stop(): Promise<void> {
    this.#o.completions.close();
    await this.#loop;
  }

  async #run(): Promise<void> {
    const batchSize = this.#o.config.worker.completion_batch_size;
    for (;;) {
      const first = await this.#o.completions.receive();
      if (first === undefined) return;
      // The batch is taken once a write slot is free, so outcomes that arrive while the writes in flight run
      // join it (group commit under load); and one macrotask later, so steps that finished in the same turn of
      // the event loop (siblings started together) share a transaction. No timer: one outcome alone waits for
      // nothing.
      const release = await this.#slots.acquire();
      await new Promise<void>((resolve) => setImmediate(resolve));
      const batch = [first, ...this.#o.completions.drain(batchSize - 1)];
      const write = this.#writeCompletions(batch).finally(release);
      this.#writes.add(write);
      void write.finally(() => this.#writes.delete(write));
    }
  }

  /**
   * Writes a batch of outcomes in one transaction. A failed write is retried with backoff for up to one
   * visibility timeout; after that the messages reappear by themselves and the steps run again, so nothing is
   * lost either way.
   */
  async #writeCompletions(batch: Completion[]): Promise<void> {
    const { inFlight, logger } = this.#o;
    const deadline = Date.now() + this.#o.config.common.queues.visibility_timeout_seconds * 1000;
    let delay = 50;
    let applied: Map<string, boolean> | undefined;
    let prepared: CompletionPayload | undefined;
    let claimed: ClaimRow[] = [];
    let reserved = 0;
    while (!applied) {
      reserved = this.#o.config.worker.resolve_in_completion
        ? this.#o.claims.reserve(this.#o.config.worker.claim_batch_size, batch.length)
        : 0;
      try {
        prepared ??= await this.#completionPayload(batch);
        const rows = await this.#completeSteps(prepared.payload, reserved, batch);
        claimed = rows[0]?.claimed ?? [];
        // Keyed by step and attempt: a stalled attempt and its replacement can share a batch.
        applied = new Map(
          rows.map((r) => [inFlightKey({ stepUuid: r.step_uuid, attempt: r.attempt }), r.applied]),
        );
        this.#health.succeeded();
        const finalized = rows[0]?.finalized;
        if (finalized && finalized.length > 0) this.#o.taskMetrics.tasksFinalized(finalized);
      } catch (e) {
        await this.#o.claims.adopt([], reserved);
        this.#health.failed(mapDbError(e));
        if (Date.now() + delay > deadline) {
          logger.error(
            { err: mapDbError(e), steps: batch.length },
            'could not write step outcomes; the steps will be claimed again after their visibility timeout',
          );
          for (const c of batch) inFlight.delete(c.step);
          inFlight.syncStats();
          this.#o.onCapacityFreed();
          return;
        }
        logger.warn({ err: mapDbError(e), retryInMs: delay }, 'writing step outcomes failed; retrying');
        await new Promise((r) => setTimeout(r, delay));
        delay = Math.min(delay * 2, 2000);
      }
    }
    this.#o.stats.completionBatches += 1;
    for (const c of batch) this.#settle(c, applied.get(inFlightKey(c.step)) === true, prepared);
    this.#forgetIdleTasks(batch);
    // The claimed dependents take the slots just freed (and the reservation) before anyone else can.
    const adopting = this.#o.claims.adopt(claimed, reserved);
    inFlight.syncStats();
    this.#o.onCapacityFreed();
    await adopting;
    flushHeldFailures(this.#o);
  }

  /** One complete_steps round trip: a row per (step, attempt) of the payload, saying whether it was applied. */
  async #completeSteps(
    payload: string,
    claimLimit: number,
    batch: readonly Completion[],
  ): Promise<CompleteStepsRow[]> {
    if (!this.#o.config.worker.resolve_in_completion) {
      // The four-transaction path passes only what it uses, so it also runs against a schema from before
      // self-claiming (a database not yet migrated while workers are upgraded).
      const res = await this.#o.db.query<CompleteStepsRow>({
        name: 'tasker_complete_steps_unresolved',
        text: 'SELECT * FROM tasker.complete_steps($1, $2, false)',
        values: [payload, this.#o.workerId],
      });
      return res.rows;
    }
    const res = await this.#o.db.query<CompleteStepsRow>({
      name: 'tasker_complete_steps',
      text: 'SELECT * FROM tasker.complete_steps($1, $2, $3, $4, $5, $6, $7)',
      values: [
        payload,
        this.#o.workerId,
        true,
        this.#o.claims.queues,
        claimLimit,
        this.#o.config.common.queues.visibility_timeout_seconds,
        // Chained steps still running here: released by this write, they are claimed for this worker rather
        // than enqueued, so their runs count (ADR 0011).
        this.#o.chains ? this.#o.inFlight.chainedSteps(new Set(batch.map((c) => c.step.stepUuid))) : [],
      ],
    });
    return res.rows;
  }

  /** Chaining remembers tasks' results; a task with no step in flight here any more can chain no further. */
  #forgetIdleTasks(batch: readonly Completion[]): void {
    const chains = this.#o.chains;
    if (!chains) return;
    for (const task of new Set(batch.map((c) => c.step.taskUuid))) {
      if (!this.#o.inFlight.hasTask(task)) chains.forget(task);
    }
  }

  /** A chained step's outcome was refused (ADR 0011). */
  #chainedRefused(c: Completion): void {
    if (!c.step.chained) {
      // A write claimed it for this worker meanwhile: it is an ordinary claimed step now; write it as one.
      c.sentChained = false;
      this.#o.completions.send(c).catch(() => this.#o.inFlight.delete(c.step));
      return;
    }
    this.#o.inFlight.delete(c.step);
    this.#o.stats.chainedRefused += 1;
    this.#o.logger.debug({ step: c.step.stepUuid }, 'chained step refused; it runs again when claimed');
  }

  /** The batch was written: forget the step, and count, publish and report its outcome if it was applied. */
  #settle(c: Completion, applied: boolean, prepared: CompletionPayload | undefined): void {
    const { stats } = this.#o;
    if (c.sentChained && !applied) {
      this.#chainedRefused(c);
      return;
    }
    if (c.sentChained) stats.chainedWritten += 1;
    this.#o.inFlight.delete(c.step);
    if (!applied) {
      // The compare-and-swap lost: our lease expired and the step was claimed again (or cancelled). The attempt
      // that replaced ours owns the step; ours is dropped, which is the correct outcome of the race.
      stats.completionsRejected += 1;
      const conflict = new TransitionConflictError(
        'step',
        c.step.stepUuid,
        `in_progress@${c.step.attempt}`,
        null,
      );
      this.#o.logger.warn(
        { err: conflict },
        'step outcome discarded: the step was claimed again after this worker lost its lease',
      );
      return;
    }
    if (c.record.success) stats.completed += 1;
    else stats.failed += 1;
    this.#afterApplied(c, prepared);
    this.#o.metrics.observeAttempt({
      handler: c.step.handler,
      success: c.record.success,
      durationMs: c.record.metadata.execution_time_ms,
      errorRetryable: c.record.error?.retryable,
      stepRetryable: c.step.retryable,
      attempt: c.step.attempt,
      maxAttempts: c.step.maxAttempts,
    });
    this.#emitFinished(c);
  }

  /**
   * The completion batch as complete_steps takes it, with each result's durable domain events attached (written
   * in the same transaction, only for results that are applied). Fast events are returned to be published once
   * the transaction has committed and their result was applied.
   */
  async #completionPayload(batch: readonly Completion[]): Promise<CompletionPayload> {
    let events: Map<string, { durable: number; fast: DomainEvent[] }> | undefined;
    const entries = [];
    for (const c of batch) {
      const entry: Record<string, unknown> = {
        step_uuid: c.step.stepUuid,
        msg_id: c.step.chained ? null : c.step.msgId,
        attempt: c.step.attempt,
        success: c.record.success,
        results: c.record,
      };
      c.sentChained = c.step.chained === true;
      if (c.sentChained) {
        entry.chained = true;
        entry.handler = c.step.handler;
      }
      const found = this.#o.eventDeclarations.forStep(c.step, c.step.stepName);
      const declarations = Array.isArray(found) ? found : await found;
      if (declarations.length > 0) {
        const built = buildStepEvents(
          c.step,
          c.record,
          declarations,
          this.#o.eventPublishers,
          this.#o.logger,
        );
        this.#o.stats.eventsFailed += built.failed;
        if (built.durable.length > 0) entry.events = built.durable.map(toEventMessage);
        if (built.durable.length + built.fast.length > 0) {
          (events ??= new Map()).set(c.step.stepUuid, { durable: built.durable.length, fast: built.fast });
        }
      }
      entries.push(entry);
    }
    return { payload: JSON.stringify(entries), events };
  }

  /**
   * A result was applied (committed, and orchestration has it): its durable events were written with it, and
   * its fast events go to the event system now, which never blocks or fails the step.
   */
  #afterApplied(c: Completion, prepared: CompletionPayload | undefined): void {
    const events = prepared?.events?.get(c.step.stepUuid);
    if (!events) return;
    this.#o.stats.durableEventsWritten += events.durable;
    this.#o.events.stats.durableWritten += events.durable;
    if (events.fast.length > 0) this.#o.stats.fastEventsPublished += this.#o.events.publish(events.fast);
  }

  #emitFinished(c: Completion): void {
    const onStepFinished = this.#o.onStepFinished;
    if (!onStepFinished) return;
    const e = c.record.error;
    try {
      onStepFinished({
        taskUuid: c.step.taskUuid,
        stepUuid: c.step.stepUuid,
        stepName: c.step.stepName,
        namespace: c.step.namespace,
        handler: c.step.handler,
        attempt: c.step.attempt,
        success: c.record.success,
        durationMs: c.record.metadata.execution_time_ms,
        ...(e
          ? {
              error: {
                name: e.name,
                message: e.message,
                retryable: e.retryable,
                ...(e.code ? { code: e.code } : {}),
              },
            }
          : {}),
      });
    } catch (err) {
      this.#o.logger.warn({ err }, 'onStepFinished callback threw');
    }
  }
}
