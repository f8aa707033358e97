import type { Metric, Registry } from 'prom-client';

/**
 * A group of Prometheus metrics owned by one engine component (an orchestrator, a worker). The component creates
 * its metrics without a registry and updates them on its own; whichever server exposes the process's
 * `/metrics` registers them on its registry. No metric lives in prom-client's global registry, so several
 * engines in one process (tests, embedded use) never collide.
 */
export abstract class MetricSet {
  /** The metrics of this set. */
  protected abstract readonly metrics: readonly Metric[];

  /**
   * Adds this set's metrics to `registry`. Idempotent: a metric already registered there under its name is
   * left alone, so a set handed to a server twice (or shared by two owners) is exposed once.
   */
  registerOn(registry: Registry): void {
    for (const metric of this.metrics) {
      const name = (metric as unknown as { name: string }).name;
      if (registry.getSingleMetric(name) === undefined) registry.registerMetric(metric);
    }
  }
}
