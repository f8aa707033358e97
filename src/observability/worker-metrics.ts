import { Counter, Gauge, Histogram, type Metric } from 'prom-client';
import { MetricSet } from './metric-set.js';

/** What a step attempt ended as, from the engine's point of view. */
export type StepAttemptOutcome = 'success' | 'retryable_failure' | 'permanent_failure';

/** The facts about one recorded step attempt that the worker metrics use. */
export interface StepAttemptFacts {
  handler: string;
  success: boolean;
  /** Handler execution time, in ms. */
  durationMs: number;
  /** The error's own verdict (`false` for a PermanentError); absent on success. */
  errorRetryable?: boolean | undefined;
  /** The step template allows retries at all. */
  stepRetryable: boolean;
  attempt: number;
  maxAttempts: number;
}

/**
 * Classifies a failed attempt the way orchestration will (`tasker.resolve_steps`): permanent when the error says
 * so, the step is not retryable, or this was the last attempt; otherwise another attempt follows.
 */
export function attemptOutcome(f: StepAttemptFacts): StepAttemptOutcome {
  if (f.success) return 'success';
  const permanent = f.errorRetryable === false || !f.stepRetryable || f.attempt >= f.maxAttempts;
  return permanent ? 'permanent_failure' : 'retryable_failure';
}

/** Figures the worker gauges read at scrape time. */
export interface WorkerMetricSources {
  threadPool?: () =>
    | {
        threads: number;
        queued: number;
        maxQueue: number;
        utilization: number;
        backpressureRejections: number;
      }
    | undefined;
  events?: () => Record<string, number>;
  /** Handlers abandoned (they ignored their abort signal) that are still running. */
  abandonedHandlers?: () => number;
}

/** Handler run times in seconds: from fast lookups to multi-minute jobs. */
const DURATION_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];

/**
 * Step metrics of one worker: handler execution time and attempts by handler and outcome. Only attempts whose
 * outcome was written to the database count (an outcome discarded because the worker lost its lease is not an
 * attempt the engine knows about). Labels are the handler name and the outcome, so the number of series
 * follows the number of handlers.
 */
export class WorkerMetrics extends MetricSet {
  readonly #duration = new Histogram({
    name: 'tasker_step_duration_seconds',
    help: 'Execution time of step handlers, by handler and outcome (success, retryable_failure, permanent_failure).',
    labelNames: ['handler', 'outcome'] as const,
    buckets: DURATION_BUCKETS,
    registers: [],
  });
  readonly #attempts = new Counter({
    name: 'tasker_step_attempts_total',
    help: 'Step attempts recorded by this worker, by handler and outcome.',
    labelNames: ['handler', 'outcome'] as const,
    registers: [],
  });
  #sources: WorkerMetricSources = {};
  readonly #threadPool = new Gauge({
    name: 'tasker_thread_pool',
    help: 'Worker thread pool for CPU-bound handlers: threads, queued (the handler runtime channel), utilization (0..1), backpressure_rejections (total).',
    labelNames: ['measure'] as const,
    registers: [],
    collect: () => {
      const stats = this.#sources.threadPool?.();
      if (!stats) return;
      this.#threadPool.set({ measure: 'threads' }, stats.threads);
      this.#threadPool.set({ measure: 'queued' }, stats.queued);
      this.#threadPool.set({ measure: 'max_queue' }, stats.maxQueue);
      this.#threadPool.set({ measure: 'utilization' }, stats.utilization);
      this.#threadPool.set({ measure: 'backpressure_rejections' }, stats.backpressureRejections);
    },
  });
  readonly #events = new Gauge({
    name: 'tasker_domain_events',
    help: 'Domain events of this process (totals): durable_written, fast_published, dropped, delivered, subscriber_failures, publisher_failures.',
    labelNames: ['measure'] as const,
    registers: [],
    collect: () => {
      const stats = this.#sources.events?.();
      if (!stats) return;
      for (const [measure, value] of Object.entries(stats)) this.#events.set({ measure }, value);
    },
  });
  readonly #abandonedTotal = new Counter({
    name: 'tasker_handlers_abandoned_total',
    help: 'Handlers abandoned because they did not return within worker.abandon_timeout_ms of their abort signal, by handler.',
    labelNames: ['handler'] as const,
    registers: [],
  });
  readonly #abandonedRunning = new Gauge({
    name: 'tasker_handlers_abandoned_running',
    help: 'Abandoned handlers still running in this process (the worker reports itself degraded while above 0).',
    registers: [],
    collect: () => {
      const running = this.#sources.abandonedHandlers?.();
      if (running !== undefined) this.#abandonedRunning.set(running);
    },
  });
  protected readonly metrics: readonly Metric[] = [
    this.#duration,
    this.#attempts,
    this.#threadPool,
    this.#events,
    this.#abandonedTotal,
    this.#abandonedRunning,
  ];

  /** Where the thread-pool and domain-event gauges read their figures at scrape time. */
  readSourcesFrom(sources: WorkerMetricSources): void {
    this.#sources = sources;
  }

  /** Counts a handler abandoned because it ignored its abort signal. */
  handlerAbandoned(handler: string): void {
    this.#abandonedTotal.inc({ handler });
  }

  /** Records one attempt whose outcome has been written. */
  observeAttempt(facts: StepAttemptFacts): void {
    const labels = { handler: facts.handler, outcome: attemptOutcome(facts) };
    this.#attempts.inc(labels);
    this.#duration.observe(labels, Math.max(0, facts.durationMs) / 1000);
  }
}
