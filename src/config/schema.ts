import { z } from 'zod';
import { OVERFLOW_POLICIES } from '../channels/bounded-channel.js';
import { MAX_JSON_DEPTH_LIMIT } from '../json-depth.js';

/**
 * The configuration schema. Keys are snake_case exactly as written in TOML. Nothing has a default here:
 * `config/tasker/base/*.toml` supplies every value, so the TOML files are the single, readable place where
 * defaults live, and a key missing from the merged result is an error rather than a silent fallback.
 *
 * Every leaf carries a `.describe()` text; `describeConfigSchema()` and the generated
 * `docs/configuration.md` are built from them.
 */

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

function int(min: number, max: number, description: string) {
  return z.number().int().min(min).max(max).describe(description);
}

function num(min: number, max: number, description: string) {
  return z.number().min(min).max(max).describe(description);
}

/** Formats accepted by `common.logging.format`. */
export const LOG_FORMATS = ['auto', 'json', 'pretty'] as const;

/** Log levels accepted by `common.logging.level` (pino's levels plus `silent`). */
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;

function channelSchema(description: string) {
  return z
    .strictObject({
      capacity: int(1, 1_000_000, 'Maximum number of items buffered in the channel.'),
      overflow_policy: z
        .enum(OVERFLOW_POLICIES)
        .describe(
          'What a send does when the channel is full: `block` waits for space, `drop_oldest` evicts the ' +
            'oldest item, `drop_newest` discards the new item, `reject` fails the send with CHANNEL_FULL.',
        ),
      send_timeout_ms: int(
        0,
        HOUR_MS,
        'With `block`, how long a send may wait for space before failing with CHANNEL_FULL; 0 = wait forever.',
      ),
    })
    .describe(description);
}

const poolSchema = z
  .strictObject({
    max_connections: int(1, 500, 'Maximum connections this process opens to PostgreSQL.'),
    idle_timeout_ms: int(0, HOUR_MS, 'Close a connection after it has been idle this long; 0 = never.'),
    acquire_timeout_ms: int(
      1,
      10 * 60_000,
      'Fail a query that waited this long for a free pool connection (the pool is exhausted).',
    ),
    slow_acquire_warn_ms: int(
      0,
      10 * 60_000,
      'Log a warning when getting a pool connection takes longer than this; 0 disables the warning.',
    ),
  })
  .describe('Connection pool of each process.');

const databaseSchema = z
  .strictObject({
    url: z
      .string()
      .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// or postgresql:// connection URL')
      .describe('PostgreSQL connection URL.'),
    statement_timeout_ms: int(
      0,
      HOUR_MS,
      'Server-side statement_timeout applied to every connection, in ms; 0 disables it.',
    ),
    pool: poolSchema,
  })
  .describe('PostgreSQL connection settings.');

const backoffSchema = z
  .strictObject({
    max_attempts: int(1, 100, 'Total executions allowed for a step, the first one included.'),
    base_ms: int(0, HOUR_MS, 'Delay before the first retry, in ms.'),
    multiplier: num(1, 100, 'Growth factor of the delay per attempt (>= 1; 1 = constant delay).'),
    max_ms: int(0, DAY_MS, 'Upper bound on any retry delay, in ms.'),
    jitter: num(0, 1, 'Random spread applied to each delay, as a fraction of it (0 = none, 0.15 = +/-15%).'),
  })
  .superRefine((b, ctx) => {
    if (b.base_ms > b.max_ms) {
      ctx.addIssue({ code: 'custom', path: ['base_ms'], message: `must not exceed max_ms (${b.max_ms})` });
    }
  })
  .describe('Retry backoff used by template steps that do not set their own retry policy.');

const queuesSchema = z
  .strictObject({
    visibility_timeout_seconds: int(
      1,
      43_200,
      'How long a read queue message stays invisible to other readers before it is redelivered, in seconds.',
    ),
    notifications_enabled: z
      .boolean()
      .describe(
        'true: queue writes are pushed with LISTEN/NOTIFY (polling remains a fallback); false: polling only.',
      ),
    listener_reconnect_min_ms: int(
      10,
      10 * 60_000,
      'First delay before reconnecting a dropped LISTEN connection, in ms.',
    ),
    listener_reconnect_max_ms: int(
      10,
      HOUR_MS,
      'Maximum delay between LISTEN reconnection attempts (the delay doubles up to this), in ms.',
    ),
  })
  .superRefine((q, ctx) => {
    if (q.listener_reconnect_min_ms > q.listener_reconnect_max_ms) {
      ctx.addIssue({
        code: 'custom',
        path: ['listener_reconnect_min_ms'],
        message: `must not exceed listener_reconnect_max_ms (${q.listener_reconnect_max_ms})`,
      });
    }
  })
  .describe('Message queues between orchestration and workers.');

/** Span exporters accepted by `common.telemetry.exporter`. */
export const TRACE_EXPORTERS = ['otlp', 'log'] as const;

const telemetrySchema = z
  .strictObject({
    enabled: z
      .boolean()
      .describe(
        'Record OpenTelemetry spans (`task.create`, `step.execute`) and carry the trace context in step ' +
          'messages; false = no tracer, no trace context stored (one boolean check per step).',
      ),
    exporter: z
      .enum(TRACE_EXPORTERS)
      .describe(
        'Where spans go: `otlp` posts them (OTLP/HTTP JSON) to `endpoint`; `log` writes each span as an ' +
          'info line through the process logger (for development).',
      ),
    endpoint: z
      .string()
      .regex(/^https?:\/\//, 'must be an http:// or https:// URL')
      .describe('Base URL of the OTLP/HTTP collector; spans are posted to `<endpoint>/v1/traces`.'),
    service_name: z.string().min(1).max(200).describe('`service.name` resource attribute of every span.'),
    sample_ratio: num(
      0,
      1,
      'Share of new traces recorded (0..1). Decided once per task at creation and inherited by its steps, ' +
        'so a task is traced whole or not at all.',
    ),
    export_interval_ms: int(10, 10 * 60_000, 'How often finished spans are exported in a batch, in ms.'),
    max_queue_size: int(
      1,
      1_000_000,
      'Finished spans buffered for export; when the buffer is full new spans are dropped (never blocks).',
    ),
  })
  .describe('OpenTelemetry tracing (off by default).');

const commonSchema = z
  .strictObject({
    logging: z
      .strictObject({
        level: z.enum(LOG_LEVELS).describe('Minimum level written to the log (`silent` turns logging off).'),
        format: z
          .enum(LOG_FORMATS)
          .describe(
            'How log lines are written: `json` lines, `pretty` (one readable line per event, coloured unless ' +
              '`NO_COLOR` is set; needs the optional `pino-pretty` package, else JSON), or `auto`: pretty when ' +
              'standard output is a terminal, JSON otherwise.',
          ),
      })
      .describe('Logging.'),
    telemetry: telemetrySchema,
    database: databaseSchema,
    circuit_breakers: z
      .strictObject({
        database: z
          .strictObject({
            enabled: z.boolean().describe('Guard every engine call to PostgreSQL with a circuit breaker.'),
            volume_threshold: int(
              1,
              10_000,
              'Calls needed in the rolling window before the breaker may open.',
            ),
            error_threshold_percentage: int(
              1,
              100,
              'Share of failed calls (connection failures only) in the rolling window that opens the breaker, in %.',
            ),
            reset_timeout_ms: int(
              10,
              HOUR_MS,
              'How long an open breaker fails calls fast before one probe, in ms.',
            ),
            rolling_window_ms: int(100, HOUR_MS, 'Length of the window failures are counted over, in ms.'),
          })
          .describe('The breaker in front of the database.'),
      })
      .describe('Circuit breakers: fail fast while a dependency is down, probe, and recover by themselves.'),
    queues: queuesSchema,
    backoff: backoffSchema,
    channels: z
      .strictObject({
        listener_notifications: channelSchema(
          'Buffer between the LISTEN connection and the code reacting to queue notifications.',
        ),
        domain_events: channelSchema(
          'Fast (in-process) domain events waiting for their subscribers; one per process. Publishing never ' +
            'waits: when full, events are dropped per the policy and counted.',
        ),
      })
      .describe('In-process channels shared by both process kinds.'),
    domain_events: z
      .strictObject({
        shutdown_drain_timeout_ms: int(
          0,
          10 * 60_000,
          'On worker shutdown, how long to wait for fast events still queued to reach their subscribers.',
        ),
        durable_batch_size: int(1, 1000, 'Durable events a DurableEventConsumer reads per round trip.'),
        durable_visibility_timeout_seconds: num(
          0.1,
          86_400,
          'How long a durable event being handled stays invisible to other consumers before redelivery.',
        ),
        durable_poll_interval_ms: int(
          10,
          HOUR_MS,
          'How often a DurableEventConsumer polls its queue besides LISTEN/NOTIFY wake-ups.',
        ),
        durable_max_deliveries: int(
          1,
          1000,
          'Deliveries of one durable event before a consumer gives up and archives it (logged).',
        ),
      })
      .describe('Domain events: fast delivery drain and durable consumers.'),
    health: z
      .strictObject({
        degraded_after_failed_writes: int(
          1,
          10_000,
          'A process whose last this-many engine writes (worker completion batches, orchestrator result ' +
            'batches) all failed reports itself degraded in `/health`, with the reason, until a write succeeds.',
        ),
      })
      .describe('How processes judge their own health beyond reachability.'),
  })
  .describe('Settings shared by orchestration and worker processes (`common.toml`).');

/** Permissions an API principal can hold; `*` grants every permission. */
export const API_PERMISSIONS = [
  'tasks:create',
  'tasks:read',
  'tasks:cancel',
  'steps:read',
  'steps:resolve',
  'templates:read',
  'templates:write',
  'dlq:read',
  'dlq:update',
  'system:read',
] as const;

const apiKeySchema = z
  .strictObject({
    name: z.string().min(1).describe('Name of the key, shown in logs and audit rows (never the key itself).'),
    key: z
      .string()
      .describe(
        'The secret sent in the `X-API-Key` header. An empty value disables the entry (e.g. an unset ${VAR:-}).',
      ),
    permissions: z
      .array(z.enum([...API_PERMISSIONS, '*']))
      .describe('Permissions granted to this key; `*` grants all of them.'),
  })
  .describe('One API key.');

const apiSchema = z
  .strictObject({
    enabled: z.boolean().describe('Serve the REST API from the orchestration process.'),
    host: z.string().min(1).describe('Address the API listens on.'),
    port: int(0, 65_535, 'Port the API listens on (0 = any free port).'),
    body_limit_bytes: int(
      1024,
      1024 * 1024 * 1024,
      'Largest request body accepted; a larger one is refused with 413 before it is parsed.',
    ),
    max_json_depth: int(
      1,
      MAX_JSON_DEPTH_LIMIT,
      'Deepest nesting of objects and arrays accepted in a JSON request body; a deeper body is refused with ' +
        '400 `JSON_TOO_DEEP` before it is parsed. Task contexts created through the library get the same check.',
    ),
    request_timeout_ms: int(
      0,
      HOUR_MS,
      'Time limit of one request, in ms (0 = none; event streams are exempt).',
    ),
    auth: z
      .strictObject({
        enabled: z
          .boolean()
          .describe('Require credentials on every route except /health/live and /health/ready.'),
        api_keys: z.array(apiKeySchema).describe('API keys accepted in the `X-API-Key` header.'),
        jwt_hs256_secret: z
          .string()
          .describe('Shared secret for HS256 bearer tokens (empty = HS256 tokens are not accepted).'),
        jwt_rs256_public_key: z
          .string()
          .describe('PEM public key for RS256 bearer tokens (empty = none; see also jwt_jwks_url).'),
        jwt_jwks_url: z.string().describe('JWKS URL to fetch RS256 verification keys from (empty = none).'),
        jwt_issuer: z.string().describe('Required `iss` claim of bearer tokens (empty = not checked).'),
        jwt_audience: z.string().describe('Required `aud` claim of bearer tokens (empty = not checked).'),
        jwt_permissions_claim: z
          .string()
          .min(1)
          .describe("Claim holding the token's permissions (an array of permission strings)."),
      })
      .describe('Authentication and authorization of the REST API.'),
  })
  .describe('The REST API served by orchestration processes.');

const orchestrationSchema = z
  .strictObject({
    result_batch_size: int(1, 10_000, 'Maximum step results read from the results queue per batch.'),
    result_poll_interval_ms: int(
      10,
      HOUR_MS,
      'How often the results queue is polled when no notification arrives, in ms.',
    ),
    retry_poll_interval_ms: int(
      10,
      HOUR_MS,
      'How often steps whose retry delay has elapsed are looked for, in ms.',
    ),
    max_concurrent_result_batches: int(1, 64, 'Result batches processed at the same time.'),
    shutdown_timeout_ms: int(
      100,
      HOUR_MS,
      'On shutdown, how long in-flight result batches may take to finish before the process stops anyway, in ms.',
    ),
    decision_points: z
      .strictObject({
        max_depth: int(
          1,
          100,
          'How deeply decision steps may nest in a template (a decision inside a branch of another is depth 2). ' +
            'Templates over the limit are refused at registration.',
        ),
      })
      .describe('Decision points: steps whose handler chooses which branches run.'),
    staleness: z
      .strictObject({
        enabled: z
          .boolean()
          .describe('Look for tasks stuck in one state and move them to error with a DLQ entry.'),
        interval_ms: int(100, DAY_MS, 'How often to look for stuck tasks, in ms.'),
        batch_size: int(1, 10_000, 'Most tasks handled per run.'),
        dry_run: z.boolean().describe('Report stuck tasks in the log without changing anything.'),
        steps_in_process_seconds: int(
          1,
          30 * 24 * 3600,
          'A task whose steps have been running (or queued with no worker taking them) this long is stuck, in s.',
        ),
        waiting_for_retry_seconds: int(
          1,
          30 * 24 * 3600,
          'A task waiting this long for a retry is stuck, in s.',
        ),
        blocked_by_failures_seconds: int(
          1,
          30 * 24 * 3600,
          'A failing task still waiting for running steps this long is stuck, in s.',
        ),
        max_lifetime_seconds: int(60, 365 * 24 * 3600, 'Any unfinished task older than this is stuck, in s.'),
      })
      .describe('Detection of stuck tasks (the dead-letter queue receives them).'),
    backpressure: z
      .strictObject({
        enabled: z
          .boolean()
          .describe('Refuse new tasks (503 with Retry-After) while the engine is overloaded.'),
        evaluation_interval_ms: int(10, HOUR_MS, 'How often the overload verdict is refreshed, in ms.'),
        results_queue_critical_depth: int(
          1,
          100_000_000,
          'Step results waiting for orchestration at which new tasks are refused (the orchestrators cannot keep up).',
        ),
        channel_critical_saturation: num(
          0.5,
          1,
          'Fullness (0..1) of any monitored channel at which new tasks are refused.',
        ),
        retry_after_seconds: int(1, 3600, 'Retry-After sent with a refusal, in s.'),
      })
      .describe('Back-pressure at the edge: task creation is refused instead of queueing without bound.'),
    priority: z
      .strictObject({
        min: int(-1_000_000, 1_000_000, 'Lowest priority a task may be created with.'),
        max: int(-1_000_000, 1_000_000, 'Highest priority a task may be created with.'),
        default: int(-1_000_000, 1_000_000, 'Priority of a task created without one.'),
        head_start_ms_per_level: int(
          0,
          HOUR_MS,
          'Head start per priority level, in ms: a step of a task `n` levels above another is claimed before ' +
            "the other's steps enqueued up to `n` times this earlier. A step is never overtaken by work enqueued " +
            'more than `(max - min)` times this after it (the starvation bound). 0 = plain FIFO.',
        ),
      })
      .refine((p) => p.min <= p.default && p.default <= p.max, {
        message: 'priority must satisfy min <= default <= max',
        path: ['default'],
      })
      .describe(
        'Task priorities: higher runs first, with aging (see docs/architecture.md, "Priorities and aging"). ' +
          'Requests outside `min`..`max` are refused.',
      ),
    api: apiSchema,
    channels: z
      .strictObject({
        result_wakeups: channelSchema(
          'Wake-up signals for the result processor (from notifications and polls).',
        ),
      })
      .describe('In-process channels of the orchestration process.'),
  })
  .describe('Orchestration process (`orchestration.toml`).');

const workerSchema = z
  .strictObject({
    max_concurrent_handlers: int(1, 10_000, 'Step handlers running at the same time in one worker process.'),
    claim_batch_size: int(1, 1_000, 'Maximum step messages claimed from the queue per read.'),
    poll_interval_ms: int(
      10,
      HOUR_MS,
      'How often the step queue is polled when no notification arrives, in ms.',
    ),
    handler_timeout_ms: int(
      1,
      DAY_MS,
      'Default time limit of one handler execution, in ms (a step template can set its own).',
    ),
    max_concurrent_completions: int(
      1,
      256,
      'Completion batches written back to the database at the same time.',
    ),
    completion_batch_size: int(1, 1_000, 'Maximum step completions written per batch.'),
    completion_timeout_ms: int(1, HOUR_MS, 'Time limit for writing one completion batch, in ms.'),
    max_result_depth: int(
      1,
      MAX_JSON_DEPTH_LIMIT,
      'Deepest nesting of objects and arrays accepted in a handler result; a deeper result fails the step ' +
        'permanently with RESULT_TOO_DEEP instead of overflowing a serializer.',
    ),
    resolve_in_completion: z
      .boolean()
      .describe(
        'Fast path: resolve dependents, enqueue ready steps and finalize the task inside the completion ' +
          'transaction (two transactions per step instead of four, no result-queue hop). Orchestrators are ' +
          'then only needed for task creation and retries.',
      ),
    heartbeat_interval_ms: int(
      100,
      HOUR_MS,
      'How often a running step extends the visibility of its queue message, in ms (keep it well below the visibility timeout).',
    ),
    shutdown_timeout_ms: int(
      100,
      HOUR_MS,
      'On shutdown, how long running handlers may take to finish before they are aborted, in ms. The process ' +
        'is gone within this plus `abandon_timeout_ms` and the time to write the last outcomes.',
    ),
    abandon_timeout_ms: int(
      10,
      HOUR_MS,
      'A handler told to stop (its time limit passed, or the worker shuts down) that has not returned this long ' +
        'after its abort signal is abandoned: its slot is freed, it is counted (`/health`, `/metrics`), and the ' +
        'worker reports itself degraded while it still runs.',
    ),
    thread_pool: z
      .strictObject({
        min_threads: int(
          0,
          256,
          'Threads kept alive once the pool has started (the pool starts on first use).',
        ),
        max_threads: int(1, 256, 'Maximum worker threads running thread handlers at the same time.'),
        max_queue: int(
          0,
          100_000,
          'Thread-handler tasks that may wait for a free thread; beyond it a submission fails with ' +
            'HANDLER_BACKPRESSURE and the step is handed back (no attempt is used).',
        ),
        idle_timeout_ms: int(
          0,
          HOUR_MS,
          'Stop a thread above `min_threads` after it has been idle this long, in ms.',
        ),
        backpressure_retry_ms: int(
          1,
          60_000,
          'A step refused with HANDLER_BACKPRESSURE is dispatched again after this delay, in ms (its lease is kept).',
        ),
      })
      .refine((p) => p.min_threads <= p.max_threads, {
        message: 'min_threads must not exceed max_threads',
        path: ['min_threads'],
      })
      .describe(
        'Worker-thread pool for CPU-bound handlers declared with `defineThreadHandler` (created only when such a ' +
          'handler is registered). Its queue is the handler runtime channel: bounded by `max_queue`.',
      ),
    errors: z
      .strictObject({
        max_message_bytes: int(
          64,
          1024 * 1024,
          'Largest step error message stored, in UTF-8 bytes; a longer one is cut and marked `… [truncated N bytes]` ' +
            '(the error name and code are held to it too).',
        ),
        max_stack_bytes: int(
          0,
          1024 * 1024,
          'Largest step error stack stored, in UTF-8 bytes (stack frames only: the message is not repeated); ' +
            '0 = store no stacks, otherwise at least 64.',
        ).refine((v) => v === 0 || v >= 64, { message: 'must be 0 (no stacks) or at least 64' }),
      })
      .describe(
        'Size caps of the step errors a worker records (stored with the step, copied to the task and its ' +
          'dead-letter snapshot).',
      ),
    channels: z
      .strictObject({
        dispatch: channelSchema('Claimed steps waiting for a free handler slot.'),
        completion: channelSchema('Finished steps waiting to be written back in a completion batch.'),
      })
      .describe('In-process channels of the worker process.'),
    web: z
      .strictObject({
        enabled: z
          .boolean()
          .describe(
            'Serve `/metrics`, `/health` and `/health/live` from `tasker worker` processes (processes that also ' +
              'run the REST API serve the worker metrics on the API instead).',
          ),
        host: z.string().min(1).describe('Address the worker metrics and health server listens on.'),
        port: int(0, 65_535, 'Port of the worker metrics and health server (0 = any free port).'),
      })
      .describe(
        'Metrics and health endpoint of worker processes. `/metrics` and `/health` take the same credentials as ' +
          'the REST API (`orchestration.api.auth`, permission `system:read`); `/health/live` is open.',
      ),
  })
  .describe('Worker process (`worker.toml`).');

/** The zod schema of the whole merged configuration. */
export const taskerConfigSchema = z
  .strictObject({
    common: commonSchema,
    orchestration: orchestrationSchema,
    worker: workerSchema,
  })
  .describe('Tasker configuration.');

/** Recursively readonly view, matching the deep-frozen object {@link loadConfig} returns. */
export type DeepReadonly<T> = T extends readonly (infer U)[]
  ? readonly DeepReadonly<U>[]
  : T extends object
    ? { readonly [K in keyof T]: DeepReadonly<T[K]> }
    : T;

/** Recursively optional view; the type of `loadConfig`'s `overrides`. */
export type DeepPartial<T> = T extends readonly unknown[]
  ? T
  : T extends object
    ? { [K in keyof T]?: DeepPartial<T[K]> }
    : T;

/** The validated configuration (snake_case keys, as in TOML). */
export type TaskerConfig = DeepReadonly<z.output<typeof taskerConfigSchema>>;
/** `[common]` section. */
export type CommonConfig = TaskerConfig['common'];
/** `[common.database]` section. */
export type DatabaseConfig = CommonConfig['database'];
/** `[common.backoff]` section. */
export type BackoffConfig = CommonConfig['backoff'];
/** `[common.queues]` section. */
export type QueuesConfig = CommonConfig['queues'];
/** `[common.telemetry]` section. */
export type TelemetryConfig = CommonConfig['telemetry'];
/** `[orchestration]` section. */
export type OrchestrationConfig = TaskerConfig['orchestration'];
/** `[worker]` section. */
export type WorkerConfig = TaskerConfig['worker'];
/** Any `[*.channels.<name>]` table. */
export type ChannelConfig = WorkerConfig['channels']['dispatch'];
/** A value of `common.logging.level`. */
export type LogLevel = (typeof LOG_LEVELS)[number];

/** The top-level sections; each lives in its own TOML file of the same name. */
export const CONFIG_SECTIONS = ['common', 'orchestration', 'worker'] as const;
/** One of {@link CONFIG_SECTIONS}. */
export type ConfigSection = (typeof CONFIG_SECTIONS)[number];
