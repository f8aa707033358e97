/**
 * The names TypeScript and SQL share: what one side writes and the other reads, so they must be spelled the same
 * on both sides. Each group is one `as const` object (or list) with the union type derived from it, and says who
 * writes the names and who reads them.
 *
 * This module is neutral ground: the worker, orchestration, the API, the results registry and the error taxonomy
 * all import it, and it imports nothing. The state machines' states and events stay with their transition tables in
 * src/state (test/integration/state-mirror.test.ts compares the tables with SQL); this module adds the one audit
 * event that is not a machine event ({@link CREATE_EVENT}). The SQL side is checked against it by test/unit/names-contract.test.ts, which reads sql/functions/, sql/tables/ and
 * migrations/: a quoted failure code, channel, queue, SQLSTATE or transition event in the SQL that is not here fails
 * that test, and so does a name said here to be written by SQL that the SQL never writes. To add a name, add it
 * here first, then use the constant on the TypeScript side and the same literal in SQL.
 */
// ---------------------------------------------------------------------------------------------------------------
// Failure codes: `error.code` of a step's results (`workflow_steps.results`) and of a task's error
// (`tasks.error.error`), next to `error.name`. Handler code may record codes of its own (PermanentError's code);
// these are the ones the engine records itself.
// ---------------------------------------------------------------------------------------------------------------

/** Failure codes a worker records when an attempt ends without the handler's own outcome (src/worker/). */
export const WORKER_FAILURE_CODES = {
  /** The handler ran past its timeout; its signal was aborted. Retryable. */
  HandlerTimeout: 'HANDLER_TIMEOUT',
  /** No handler with the step's name is registered here, or a thread handler's module or export is missing. Permanent. */
  HandlerNotFound: 'HANDLER_NOT_FOUND',
  /** A thread handler was claimed by a runner without a thread pool. Permanent. */
  ThreadPoolUnavailable: 'THREAD_POOL_UNAVAILABLE',
  /** The handler's result nests deeper than `worker.max_result_depth`. Permanent. */
  ResultTooDeep: 'RESULT_TOO_DEEP',
  /** The handler's result has no JSON form (cyclic, BigInt). Permanent. */
  ResultNotSerializable: 'RESULT_NOT_SERIALIZABLE',
  /** The worker shut down while the handler ran. Retryable; not stored: the worker hands the step back instead. */
  WorkerShutdown: 'WORKER_SHUTDOWN',
  /** The step's task was cancelled while the handler ran (the step is already `cancelled`; refused). Permanent. */
  TaskCancelled: 'TASK_CANCELLED',
} as const;

/** Failure codes SQL functions write (sql/functions/); record_failed_tasks also reads LEASE_EXPIRED. */
export const SQL_FAILURE_CODES = {
  /** claim_steps (fail_lost_leases): a worker's lease on the step expired and no attempts are left. Permanent. */
  LeaseExpired: 'LEASE_EXPIRED',
  /** resolve_apply_decisions: a decision step's outcome is missing, malformed or names a non-branch. Permanent. */
  InvalidDecision: 'INVALID_DECISION',
  /** resolve_expand_batches: a batchable step's outcome is missing, malformed or asks for too many batches. */
  InvalidBatchOutcome: 'INVALID_BATCH_OUTCOME',
  /** detect_stale_tasks, into the task's error (no step): the task sat too long in one state. */
  StalenessTimeout: 'STALENESS_TIMEOUT',
} as const;

/**
 * Every failure code the engine records. The key is also the `error.name` recorded with the code whenever the
 * engine makes the error itself (all but HandlerTimeout, WorkerShutdown and TaskCancelled, whose error is the
 * abort reason, `HandlerTimeoutError` for a timeout).
 */
export const FAILURE_CODES = { ...WORKER_FAILURE_CODES, ...SQL_FAILURE_CODES } as const;
/** A failure code the engine records. */
export type FailureCode = (typeof FAILURE_CODES)[keyof typeof FAILURE_CODES];
/** The `error.name` of an engine-made failure: its code's key in {@link FAILURE_CODES}. */
export type FailureName = keyof typeof FAILURE_CODES;
/** Each failure's error name, by key (`FAILURE_NAMES.HandlerNotFound === 'HandlerNotFound'`). */
export const FAILURE_NAMES = Object.freeze(
  Object.fromEntries(Object.keys(FAILURE_CODES).map((name) => [name, name])),
) as { readonly [N in FailureName]: N };

// ---------------------------------------------------------------------------------------------------------------
// Queues (rows of tasker.queue_messages) and NOTIFY/LISTEN channels.
// ---------------------------------------------------------------------------------------------------------------

/** Queues with a fixed name. */
export const QUEUES = {
  /**
   * Step outcomes waiting for orchestration: written by complete_steps (without the fast path) and
   * fail_lost_leases, read by process_step_results; created by migration 0003 and by every orchestrator.
   */
  StepResults: 'orchestration_step_results',
} as const;
/** A queue with a fixed name. */
export type FixedQueueName = (typeof QUEUES)[keyof typeof QUEUES];

/** The queue a namespace's steps are sent to (SQL: `tasker.worker_queue_name`). */
export type WorkerQueueName = `worker_${string}_queue`;
/** The queue a namespace's durable domain events go to (SQL: `tasker.domain_events_queue_name`). */
export type DomainEventsQueueName = `domain_events_${string}`;

/**
 * The queue a namespace's steps are sent to: written by create_task(_steps) and send_step_messages, claimed by
 * the workers serving the namespace. Mirrors `tasker.worker_queue_name`.
 */
export function workerQueueName(namespace: string): WorkerQueueName {
  return `worker_${namespace}_queue`;
}

/**
 * The queue a namespace's durable domain events go to: written by complete_steps, read by
 * `DurableEventConsumer` and external consumers. Mirrors `tasker.domain_events_queue_name`.
 */
export function domainEventsQueueName(namespace: string): DomainEventsQueueName {
  return `domain_events_${namespace}`;
}

/** Channels with a fixed name; every one is notified by SQL and listened to by TypeScript. */
export const CHANNELS = {
  /** cancel_task, payload the task uuid: workers abort the handlers running the task's steps. */
  Cancellations: 'tasker_cancellations',
  /**
   * notify_task_events (every function that writes transitions), payload comma-separated task uuids: the API's
   * event streams re-read those tasks.
   */
  TaskEvents: 'tasker_task_events',
  /**
   * notify_task_finished (from move_tasks), payload `uuid:state` items: the results registry settles the
   * waiters of finished tasks.
   */
  TaskFinished: 'tasker_task_finished',
} as const;
/** A channel with a fixed name. */
export type ChannelName = (typeof CHANNELS)[keyof typeof CHANNELS];

/** The channel a queue's sends notify. */
export type QueueChannelName = `tasker_q_${string}`;

/**
 * The channel every send to `queue` notifies in its transaction (send, send_batch, create_task, ...); claim
 * loops and result pumps listen to it. Mirrors `tasker.queue_channel`.
 */
export function queueChannel(queue: string): QueueChannelName {
  return `tasker_q_${queue}`;
}

// ---------------------------------------------------------------------------------------------------------------
// Errors raised by SQL functions (custom SQLSTATEs), mapped to typed errors by src/db/errors.ts.
// ---------------------------------------------------------------------------------------------------------------

/** The SQLSTATEs SQL functions raise (`RAISE ... USING ERRCODE = 'TK404'`) and src/db/errors.ts maps. */
export const SQL_ERROR_STATES = {
  /** resolve_template: no such template (→ TEMPLATE_NOT_FOUND). */
  TemplateNotFound: 'TK404',
  /** apply_step_action, cancel_task: no such task (→ TASK_NOT_FOUND). */
  TaskNotFound: 'TK405',
  /** apply_step_action: no such step in the task (→ STEP_NOT_FOUND). */
  StepNotFound: 'TK406',
  /** update_dlq: no such dead-letter entry (→ DLQ_ENTRY_NOT_FOUND). */
  DlqEntryNotFound: 'TK407',
  /** register_template: the version exists with other content (→ TEMPLATE_CONFLICT). */
  TemplateConflict: 'TK409',
  /** apply_step_action, cancel_task, reevaluate_task: not allowed in the current state (→ INVALID_TRANSITION). */
  InvalidTransition: 'TK410',
  /** create_task(s), checkpoint_step, task_priority, apply_step_action: invalid input (→ TASK_INVALID). */
  InvalidInput: 'TK422',
  /** assert_queue: no such queue (→ QUEUE_NOT_FOUND). */
  QueueNotFound: 'TK441',
} as const;
/** A SQLSTATE a SQL function raises. */
export type SqlErrorState = (typeof SQL_ERROR_STATES)[keyof typeof SQL_ERROR_STATES];

// ---------------------------------------------------------------------------------------------------------------
// Transition events (the `event` column of task_transitions and workflow_step_transitions): written by SQL, read
// back by the API's transition views. The machines' events are `StepEvent` and `TaskEvent` in src/state, defined
// with their transition tables; the contract test checks every event SQL writes against them.
// ---------------------------------------------------------------------------------------------------------------

/**
 * The event of an entity's first audit row (`from_state` NULL, `to_state` pending): written by create_task,
 * create_task_steps and resolve_expand_batches. Not an event of either machine: nothing moves into `pending` by it.
 */
export const CREATE_EVENT = 'Create';

// ---------------------------------------------------------------------------------------------------------------
// Operator actions and dead letters.
// ---------------------------------------------------------------------------------------------------------------

/** Operator actions on a step: passed to apply_step_action, which picks the target state and event by them. */
export const STEP_ACTIONS = {
  /** error → pending, attempts back to 0 (event ResetForRetry). */
  ResetForRetry: 'reset_for_retry',
  /** → resolved_manually: satisfies dependents, no result (event ResolveManually). */
  ResolveManually: 'resolve_manually',
  /** → complete with a given result that dependents can read (event CompleteManually). */
  CompleteManually: 'complete_manually',
} as const;
/** An operator action on a step. */
export type StepActionName = (typeof STEP_ACTIONS)[keyof typeof STEP_ACTIONS];

/**
 * Why a task was dead-lettered (`tasks_dlq.dlq_reason`, whose CHECK lists exactly these). SQL writes
 * `staleness_timeout` (detect_stale_tasks) and `permanent_failure`, `max_retries_exceeded`, `worker_unavailable`
 * (record_failed_tasks, the last for LEASE_EXPIRED); the API and CLI filter by them.
 */
export const DLQ_REASONS = [
  'staleness_timeout',
  'max_retries_exceeded',
  'permanent_failure',
  'dependency_cycle_detected',
  'worker_unavailable',
  'manual_dlq',
] as const;
/** Why a task was dead-lettered. */
export type DlqReason = (typeof DLQ_REASONS)[number];

/** The DLQ reasons SQL functions write (the others are accepted but not written by the engine). */
export const SQL_DLQ_REASONS: readonly DlqReason[] = Object.freeze([
  'staleness_timeout',
  'max_retries_exceeded',
  'permanent_failure',
  'worker_unavailable',
]);

/**
 * Where the resolution of a dead-letter entry stands (`tasks_dlq.resolution_status`, CHECK-ed to these). SQL
 * writes `pending` (the default) and `manually_resolved` (reevaluate_task, when an operator action resumes the
 * task); the API sets any of them (update_dlq).
 */
export const DLQ_RESOLUTION_STATUSES = [
  'pending',
  'manually_resolved',
  'permanently_failed',
  'cancelled',
] as const;
/** Where the resolution of a dead-letter entry stands. */
export type DlqResolutionStatus = (typeof DLQ_RESOLUTION_STATUSES)[number];
