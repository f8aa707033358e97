import { monitorEventLoopDelay, type ELDHistogram } from 'node:perf_hooks';
import { Gauge, type Registry } from 'prom-client';

/** Event-loop delay percentiles cover roughly this window (the histogram is reset this often). */
const LOOP_WINDOW_MS = 60_000;
/** Sampling interval of the event-loop delay histogram, in ms. */
const LOOP_RESOLUTION_MS = 10;

/** Event-loop delay over the current window, in ms. */
export interface EventLoopDelay {
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

/**
 * Samples event-loop delay (`perf_hooks.monitorEventLoopDelay`) for `/health` and `/metrics`; owns a histogram
 * that must be stopped on close. A delayed loop means timers, I/O callbacks and requests are queueing behind
 * CPU work (a CPU-bound handler on the main thread, huge JSON, synchronous logging).
 */
export class EventLoopMonitor {
  readonly #histogram: ELDHistogram;
  readonly #timer: ReturnType<typeof setInterval>;

  constructor() {
    this.#histogram = monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS });
    this.#histogram.enable();
    // Reset periodically so the percentiles describe recent behaviour, not the whole process lifetime.
    this.#timer = setInterval(() => this.#histogram.reset(), LOOP_WINDOW_MS);
    this.#timer.unref();
  }

  /** p50 and p99 delay in ms over the current window. */
  percentiles(): { p50: number; p99: number } {
    const { p50, p99 } = this.delay();
    return { p50, p99 };
  }

  /** Delay percentiles and maximum in ms over the current window (0 before the first sample). */
  delay(): EventLoopDelay {
    // The histogram records nanoseconds between samples, sampling interval included: subtract it to get the
    // delay alone. With no samples yet it reports 0.
    const ms = (ns: number): number => Math.max(0, ns / 1e6 - LOOP_RESOLUTION_MS);
    const h = this.#histogram;
    return {
      p50: ms(h.percentile(50)),
      p90: ms(h.percentile(90)),
      p99: ms(h.percentile(99)),
      max: h.count > 0 ? ms(h.max) : 0,
    };
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#histogram.disable();
  }
}

/**
 * Registers `tasker_event_loop_delay_seconds{quantile}` (p50, p90, p99 and max as quantile 1) on `registry`,
 * read from `loop` at scrape time.
 */
export function registerEventLoopMetrics(registry: Registry, loop: EventLoopMonitor): void {
  new Gauge({
    name: 'tasker_event_loop_delay_seconds',
    help:
      'Event-loop delay of this process over the last minute: p50, p90, p99 and the maximum (quantile "1"). ' +
      'High values mean callbacks queue behind CPU work.',
    labelNames: ['quantile'] as const,
    registers: [registry],
    collect() {
      const d = loop.delay();
      this.set({ quantile: '0.5' }, d.p50 / 1000);
      this.set({ quantile: '0.9' }, d.p90 / 1000);
      this.set({ quantile: '0.99' }, d.p99 / 1000);
      this.set({ quantile: '1' }, d.max / 1000);
    },
  });
}
