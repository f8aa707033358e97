/**
 * The worker's counters and the event it reports per finished step. Kept apart from the Worker class because
 * every stage along the step's path (claim loop, step executor, completion writer) updates the same counters.
 */

/** Reported after a step's outcome has been written back (for progress output and tests). */
export interface StepFinishedEvent {
  taskUuid: string;
  stepUuid: string;
  stepName: string;
  namespace: string;
  handler: string;
  attempt: number;
  success: boolean;
  durationMs: number;
  error?: { name: string; message: string; code?: string; retryable: boolean };
}

/** Counters of one worker, updated without locks. */
export interface WorkerStats {
  claimed: number;
  /** Of `claimed`: dependents claimed by this worker's own completion writes (no claim round trip). */
  selfClaimed: number;
  /** Dependents started here right after their parents succeeded here, without a claim (ADR 0011). */
  chained: number;
  /** Of `chained`: outcomes written with their parents' in one transaction. */
  chainedWritten: number;
  /** Of `chained`: steps the database did not let run as chained (they run again, claimed). */
  chainedRefused: number;
  completed: number;
  failed: number;
  completionBatches: number;
  completionsRejected: number;
  handlersRunning: number;
  maxHandlersRunning: number;
  inFlight: number;
  /** Claimed steps handed back on shutdown before their handler started. */
  releasedOnShutdown: number;
  /** Handlers aborted by this worker's shutdown, handed back without their attempt counted. */
  abortedOnShutdown: number;
  /** Claimed steps not started because their task was cancelled first (no handler call, no attempt used). */
  cancelledBeforeStart: number;
  /** Claimed steps handed back because no handler slot freed up within half the visibility timeout. */
  releasedNotStarted: number;
  /** Handlers told to stop that did not return within `worker.abandon_timeout_ms` and still run. */
  abandonedHandlers: number;
  /** Handlers abandoned since the worker started. */
  abandonedHandlersTotal: number;
  /** Thread-handler steps refused by a full thread pool (HANDLER_BACKPRESSURE) and dispatched again later. */
  deferredOnBackpressure: number;
  /** Durable domain events written with their step's result. */
  durableEventsWritten: number;
  /** Fast domain events handed to the event system (after their result was written). */
  fastEventsPublished: number;
  /** Domain events not published because their publisher was missing or failed. */
  eventsFailed: number;
}

/** A worker's counters before it has done anything. */
export function emptyWorkerStats(): WorkerStats {
  return {
    claimed: 0,
    selfClaimed: 0,
    chained: 0,
    chainedWritten: 0,
    chainedRefused: 0,
    completed: 0,
    failed: 0,
    completionBatches: 0,
    completionsRejected: 0,
    handlersRunning: 0,
    maxHandlersRunning: 0,
    inFlight: 0,
    releasedOnShutdown: 0,
    abortedOnShutdown: 0,
    cancelledBeforeStart: 0,
    releasedNotStarted: 0,
    abandonedHandlers: 0,
    abandonedHandlersTotal: 0,
    deferredOnBackpressure: 0,
    durableEventsWritten: 0,
    fastEventsPublished: 0,
    eventsFailed: 0,
  };
}
