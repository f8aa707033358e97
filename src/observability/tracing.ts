/**
 * OpenTelemetry tracing: one task is one trace, whichever processes run its steps.
 *
 * - `task.create` (kind PRODUCER) is recorded where a task is created (API, orchestrator, `createTask()`). It
 *   continues the caller's trace (an incoming `traceparent`, else the active OpenTelemetry context) or starts a
 *   new one. Its W3C trace context is stored on the task and copied into every step message sent for the task.
 * - `step.execute` (kind CONSUMER) is recorded by the worker around each handler run, as a child of the context
 *   that came back with the claimed message. The context travels through the database and the queue only, so a
 *   task's steps share one trace id whether they run in one process or in many.
 *
 * Whether a task is traced is decided once, when it is created (sampling included), and every step follows that
 * decision: a task created without a trace context gets no step spans.
 *
 * One tracing setup per process ({@link setupTracing}), shared by every engine in it, like the exporter
 * connection it owns. It is deliberately not registered as the OpenTelemetry global provider: an application
 * that embeds Tasker keeps its own global setup, and tests can swap Tasker's in and out. An application that
 * wants Tasker's spans in its own pipeline passes its provider (`setupTracing(settings, { provider })`).
 *
 * When tracing is disabled (the default) nothing of the OpenTelemetry SDK is even loaded: the engine calls the
 * handler or the query straight through, and the database columns and messages carry no trace context.
 */
import type {
  Attributes,
  Context,
  Span,
  TextMapPropagator,
  Tracer,
  TracerProvider,
} from '@opentelemetry/api';
import type * as OtelApiModule from '@opentelemetry/api';
import type * as OtelCoreModule from '@opentelemetry/core';
import type * as OtelSdkModule from '@opentelemetry/sdk-trace-base';
import type * as OtelResourcesModule from '@opentelemetry/resources';
import type * as OtelOtlpModule from '@opentelemetry/exporter-trace-otlp-http';
import type { SpanExporter } from '@opentelemetry/sdk-trace-base';
import type { Logger } from 'pino';
import type { TelemetryConfig } from '../config/schema.js';
import type { ClaimedStep, StepResultRecord } from '../worker/claimed-step.js';
import { childLogger, silentLogger } from './logger.js';
import { importOptional } from '../runtime/optional.js';
import { LogSpanExporter, ReportingExporter } from './span-exporters.js';

/** The W3C trace context of a task: stored on the task row and carried in its step messages. */
export interface TraceContextCarrier {
  traceparent?: string;
  tracestate?: string;
}

/** What a `task.create` span is about. */
export interface TaskCreateSpanInfo {
  namespace: string;
  name: string;
  version?: string | undefined;
}

/** What the created task reports back to its `task.create` span. */
export interface TaskCreateSpanResult {
  taskUuid: string;
  correlationId: string;
  templateVersion: string;
  stepsEnqueued: number;
  duplicate: string;
}

/**
 * The process's tracing. Engine code calls {@link Tracing.traceTaskCreate} and {@link Tracing.traceStepExecute};
 * when tracing is disabled both call their function straight through.
 */
export interface Tracing {
  /** False: no spans are made and no trace context is stored. */
  readonly enabled: boolean;
  /** The tracer Tasker's spans come from (undefined when disabled); handlers may make child spans with it. */
  readonly tracer: Tracer | undefined;
  /**
   * Runs `create` inside a `task.create` span. `create` receives the trace context to store on the task (empty
   * when disabled). `parent` is an incoming trace context (e.g. the request's `traceparent` header); without a
   * valid one the active OpenTelemetry context is the parent, and without that the span starts a new trace.
   * `describe` turns the result into span attributes (only called when tracing).
   */
  traceTaskCreate<T>(
    info: TaskCreateSpanInfo,
    parent: TraceContextCarrier | undefined,
    create: (trace: TraceContextCarrier) => Promise<T>,
    describe: (created: T) => TaskCreateSpanResult,
  ): Promise<T>;
  /**
   * Runs one handler attempt inside a `step.execute` span parented on the step's trace context (from its
   * claimed message). Steps of untraced tasks run without a span.
   */
  traceStepExecute<T extends { record: StepResultRecord }>(
    step: ClaimedStep,
    workerId: string,
    execute: () => Promise<T>,
  ): Promise<T>;
  /** Exports every finished span now. */
  forceFlush(): Promise<void>;
  /** Exports what is pending, stops the exporter and, if this is the process's tracing, uninstalls it. */
  shutdown(): Promise<void>;
}

/** Options of {@link setupTracing}. */
export interface TracingOptions {
  /** Export to this exporter instead of the configured one (tests pass an `InMemorySpanExporter`). */
  exporter?: SpanExporter;
  /**
   * Make spans with this provider (e.g. the application's own) instead of creating one from the settings; then
   * `exporter`, `sample_ratio` and the export settings are the provider's business, and `shutdown()` leaves it
   * running.
   */
  provider?: TracerProvider;
  /** Export failures are reported here; the `log` exporter writes spans here. */
  logger?: Logger;
}

const disabledTracing: Tracing = {
  enabled: false,
  tracer: undefined,
  traceTaskCreate: (_info, _parent, create) => create({}),
  traceStepExecute: (_step, _worker, execute) => execute(),
  forceFlush: () => Promise.resolve(),
  shutdown: () => Promise.resolve(),
};

let installed: Tracing = disabledTracing;

/** The process's tracing (disabled until {@link setupTracing} installs one). Read on every step: keep it cheap. */
export function currentTracing(): Tracing {
  return installed;
}

/**
 * Sets up tracing from `common.telemetry` and installs it for this process (every orchestrator, worker and API
 * server in it then traces). With `enabled = false` it installs the disabled tracing and loads nothing.
 * Call `shutdown()` on the result before exiting, so that the last spans are exported.
 */
export async function setupTracing(
  settings: TelemetryConfig,
  options: TracingOptions = {},
): Promise<Tracing> {
  const tracing = settings.enabled ? await createSdkTracing(settings, options) : disabledTracing;
  installed = tracing;
  return tracing;
}

type OtelApi = typeof OtelApiModule;

/** Step outcome recorded as `tasker.step.outcome`. */
function stepOutcome(record: StepResultRecord): 'success' | 'retry' | 'error' {
  if (record.success) return 'success';
  return record.retry_delay_ms !== undefined ? 'retry' : 'error';
}

class SdkTracing implements Tracing {
  readonly enabled = true;
  readonly tracer: Tracer;
  readonly #api: OtelApi;
  readonly #propagator: TextMapPropagator;
  readonly #flush: () => Promise<void>;
  readonly #stop: () => Promise<void>;
  #stopped = false;

  constructor(
    api: OtelApi,
    tracer: Tracer,
    propagator: TextMapPropagator,
    flush: () => Promise<void>,
    stop: () => Promise<void>,
  ) {
    this.#api = api;
    this.tracer = tracer;
    this.#propagator = propagator;
    this.#flush = flush;
    this.#stop = stop;
  }

  /** The context a carrier describes, or undefined when it holds no valid trace context. */
  #extract(carrier: TraceContextCarrier): Context | undefined {
    if (!carrier.traceparent) return undefined;
    const api = this.#api;
    const ctx = this.#propagator.extract(api.ROOT_CONTEXT, carrier, api.defaultTextMapGetter);
    return api.trace.getSpanContext(ctx) ? ctx : undefined;
  }

  #fail(span: Span, error: unknown): void {
    const e = error instanceof Error ? error : new Error(String(error));
    span.recordException(e);
    span.setStatus({ code: this.#api.SpanStatusCode.ERROR, message: e.message });
  }

  async traceTaskCreate<T>(
    info: TaskCreateSpanInfo,
    parent: TraceContextCarrier | undefined,
    create: (trace: TraceContextCarrier) => Promise<T>,
    describe: (created: T) => TaskCreateSpanResult,
  ): Promise<T> {
    const api = this.#api;
    const parentCtx = (parent && this.#extract(parent)) ?? api.context.active();
    const span = this.tracer.startSpan(
      'task.create',
      {
        kind: api.SpanKind.PRODUCER,
        attributes: {
          'tasker.namespace': info.namespace,
          'tasker.template.name': info.name,
          ...(info.version ? { 'tasker.template.version': info.version } : {}),
        },
      },
      parentCtx,
    );
    const ctx = api.trace.setSpan(parentCtx, span);
    // The stored context names this span, so every step span of the task is its child. An unsampled span still
    // yields a context (flags 00): its steps then inherit "not sampled" instead of deciding again.
    const trace: TraceContextCarrier = {};
    this.#propagator.inject(ctx, trace, api.defaultTextMapSetter);
    try {
      const created = await api.context.with(ctx, () => create(trace));
      const d = describe(created);
      span.setAttributes({
        'tasker.task.uuid': d.taskUuid,
        'tasker.correlation_id': d.correlationId,
        'tasker.template.version': d.templateVersion,
        'tasker.steps_enqueued': d.stepsEnqueued,
        'tasker.task.duplicate': d.duplicate,
      });
      return created;
    } catch (e) {
      this.#fail(span, e);
      throw e;
    } finally {
      span.end();
    }
  }

  traceStepExecute<T extends { record: StepResultRecord }>(
    step: ClaimedStep,
    workerId: string,
    execute: () => Promise<T>,
  ): Promise<T> {
    const parentCtx = step.traceparent
      ? this.#extract({ traceparent: step.traceparent, tracestate: step.tracestate })
      : undefined;
    if (!parentCtx) return execute();
    const api = this.#api;
    const span = this.tracer.startSpan(
      'step.execute',
      {
        kind: api.SpanKind.CONSUMER,
        attributes: {
          'tasker.task.uuid': step.taskUuid,
          'tasker.step.uuid': step.stepUuid,
          'tasker.step.name': step.stepName,
          'tasker.step.handler': step.handler,
          'tasker.step.attempt': step.attempt,
          'tasker.step.max_attempts': step.maxAttempts,
          'tasker.namespace': step.namespace,
          'tasker.template.name': step.templateName,
          'tasker.template.version': step.templateVersion,
          'tasker.correlation_id': step.correlationId,
          'tasker.worker.id': workerId,
          'messaging.destination.name': step.queue,
          'messaging.message.id': step.msgId,
        },
      },
      parentCtx,
    );
    // The handler runs in the span's context: with an OpenTelemetry context manager installed by the application,
    // spans the handler makes (its HTTP calls, queries) become children of this one.
    return api.context.with(api.trace.setSpan(parentCtx, span), execute).then(
      (result) => {
        const { record } = result;
        const attributes: Attributes = { 'tasker.step.outcome': stepOutcome(record) };
        if (record.error) {
          attributes['tasker.error.retryable'] = record.error.retryable;
          if (record.error.code) attributes['tasker.error.code'] = record.error.code;
          span.recordException({
            name: record.error.name,
            message: record.error.message,
            ...(record.error.code ? { code: record.error.code } : {}),
            ...(record.error.stack ? { stack: record.error.stack } : {}),
          });
          span.setStatus({
            code: api.SpanStatusCode.ERROR,
            message: `${record.error.code ?? record.error.name}: ${record.error.message}`,
          });
        }
        span.setAttributes(attributes);
        span.end();
        return result;
      },
      (e: unknown) => {
        this.#fail(span, e);
        span.end();
        throw e;
      },
    );
  }

  forceFlush(): Promise<void> {
    return this.#flush();
  }

  async shutdown(): Promise<void> {
    if (installed === this) installed = disabledTracing;
    if (this.#stopped) return;
    this.#stopped = true;
    await this.#stop();
  }
}

/** The OpenTelemetry SDK packages are optional dependencies: a production install may leave them out. */
function otel<T>(specifier: string): Promise<T> {
  return importOptional<T>(specifier, 'to enable tracing (common.telemetry.enabled = true)');
}

/** Loads the SDK (only now: a disabled setup never pays for it) and builds the provider and exporter. */
async function createSdkTracing(settings: TelemetryConfig, options: TracingOptions): Promise<Tracing> {
  const logger = childLogger(options.logger ?? silentLogger(), { component: 'tracing' });
  const [api, core] = await Promise.all([
    import('@opentelemetry/api'),
    otel<typeof OtelCoreModule>('@opentelemetry/core'),
  ]);
  const propagator = new core.W3CTraceContextPropagator();
  if (options.provider) {
    const provider = options.provider;
    const flush = (provider as { forceFlush?: () => Promise<void> }).forceFlush;
    return new SdkTracing(
      api,
      provider.getTracer('tasker'),
      propagator,
      () => flush?.call(provider) ?? Promise.resolve(),
      () => Promise.resolve(),
    );
  }
  const [sdk, resources] = await Promise.all([
    otel<typeof OtelSdkModule>('@opentelemetry/sdk-trace-base'),
    otel<typeof OtelResourcesModule>('@opentelemetry/resources'),
  ]);
  let exporter: SpanExporter;
  if (options.exporter) {
    exporter = options.exporter;
  } else if (settings.exporter === 'log') {
    exporter = new LogSpanExporter(logger, core.hrTimeToMilliseconds, {
      code: core.ExportResultCode.SUCCESS,
    });
  } else {
    const { OTLPTraceExporter } = await otel<typeof OtelOtlpModule>(
      '@opentelemetry/exporter-trace-otlp-http',
    );
    exporter = new OTLPTraceExporter({ url: `${settings.endpoint.replace(/\/+$/, '')}/v1/traces` });
  }
  const provider = new sdk.BasicTracerProvider({
    resource: resources.resourceFromAttributes({ 'service.name': settings.service_name }),
    sampler: new sdk.ParentBasedSampler({ root: new sdk.TraceIdRatioBasedSampler(settings.sample_ratio) }),
    spanProcessors: [
      new sdk.BatchSpanProcessor(new ReportingExporter(exporter, logger, core.ExportResultCode.SUCCESS), {
        scheduledDelayMillis: settings.export_interval_ms,
        maxQueueSize: settings.max_queue_size,
        maxExportBatchSize: Math.min(512, settings.max_queue_size),
      }),
    ],
  });
  logger.info(
    {
      exporter: options.exporter ? 'custom' : settings.exporter,
      ...(options.exporter || settings.exporter !== 'otlp' ? {} : { endpoint: settings.endpoint }),
      sampleRatio: settings.sample_ratio,
    },
    'tracing enabled',
  );
  return new SdkTracing(
    api,
    provider.getTracer('tasker'),
    propagator,
    () => provider.forceFlush(),
    () => provider.shutdown(),
  );
}
