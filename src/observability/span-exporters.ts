/**
 * Span exporters of the tracing setup: the `log` exporter (one info line per span) and a wrapper that reports
 * failed exports instead of letting them vanish. OpenTelemetry values are passed in, so this module loads no SDK.
 */
import type { ExportResult, ExportResultCode } from '@opentelemetry/core';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace-base';
import type { Logger } from 'pino';

/** Writes each span as one info line through the logger (`exporter = "log"`). */
export class LogSpanExporter implements SpanExporter {
  readonly #logger: Logger;
  readonly #hrTimeToMilliseconds: (t: ReadableSpan['startTime']) => number;
  readonly #success: ExportResult;

  constructor(
    logger: Logger,
    hrTimeToMilliseconds: (t: ReadableSpan['startTime']) => number,
    success: ExportResult,
  ) {
    this.#logger = logger;
    this.#hrTimeToMilliseconds = hrTimeToMilliseconds;
    this.#success = success;
  }

  export(spans: ReadableSpan[], done: (result: ExportResult) => void): void {
    for (const s of spans) {
      const ctx = s.spanContext();
      this.#logger.info(
        {
          span: {
            name: s.name,
            trace_id: ctx.traceId,
            span_id: ctx.spanId,
            parent_span_id: s.parentSpanContext?.spanId,
            start_ms: this.#hrTimeToMilliseconds(s.startTime),
            duration_ms: this.#hrTimeToMilliseconds(s.duration),
            status: s.status.code,
            ...(s.status.message ? { status_message: s.status.message } : {}),
            attributes: s.attributes,
          },
        },
        'span',
      );
    }
    done(this.#success);
  }

  shutdown(): Promise<void> {
    return Promise.resolve();
  }
}

/** Reports failed exports (rate-limited) instead of letting them vanish into OpenTelemetry's silent default. */
export class ReportingExporter implements SpanExporter {
  readonly #inner: SpanExporter;
  readonly #logger: Logger;
  readonly #success: ExportResultCode;
  #lastWarn = 0;
  #failedSinceWarn = 0;

  constructor(inner: SpanExporter, logger: Logger, success: ExportResultCode) {
    this.#inner = inner;
    this.#logger = logger;
    this.#success = success;
  }

  export(spans: ReadableSpan[], done: (result: ExportResult) => void): void {
    this.#inner.export(spans, (result) => {
      if (result.code !== this.#success) {
        this.#failedSinceWarn += spans.length;
        const now = Date.now();
        if (now - this.#lastWarn >= 60_000) {
          this.#logger.warn(
            { err: result.error, spansDropped: this.#failedSinceWarn },
            'exporting trace spans failed; they are dropped',
          );
          this.#lastWarn = now;
          this.#failedSinceWarn = 0;
        }
      }
      done(result);
    });
  }

  shutdown(): Promise<void> {
    return this.#inner.shutdown();
  }

  forceFlush(): Promise<void> {
    return this.#inner.forceFlush?.() ?? Promise.resolve();
  }
}
