/**
 * The `[common]` section (`common.toml`): settings shared by orchestration and worker processes (database and
 * pool, backoff, queues, logging, telemetry, health).
 */
import { z } from 'zod';
import { channelSchema, DAY_MS, HOUR_MS, int, num } from './schema-parts.js';

/** Formats accepted by `common.logging.format`. */
export const LOG_FORMATS = ['auto', 'json', 'pretty'] as const;

/** Log levels accepted by `common.logging.level` (pino's levels plus `silent`). */
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;

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

/** `[common]`. */
export const commonSchema = z
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
