/**
 * Prometheus metrics of the API process. Each server owns its registry (not prom-client's global one), so
 * several servers in one process (tests, embedded use) never collide on metric names.
 */
import type pg from 'pg';
import { collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

/** Metrics of one API server. */
export class ApiMetrics {
  readonly registry = new Registry();
  readonly #requestDuration: Histogram<'method' | 'route' | 'status'>;

  constructor(pool: pg.Pool) {
    collectDefaultMetrics({ register: this.registry });
    this.#requestDuration = new Histogram({
      name: 'tasker_http_request_duration_seconds',
      help: 'Duration of HTTP requests served by the Tasker API, by route template and status code.',
      labelNames: ['method', 'route', 'status'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [this.registry],
    });
    new Gauge({
      name: 'tasker_db_pool_connections',
      help: 'Connections of the API database pool: total open, idle, and requests waiting for one.',
      labelNames: ['state'],
      registers: [this.registry],
      collect() {
        // Read at scrape time so the values are never stale.
        this.set({ state: 'total' }, pool.totalCount);
        this.set({ state: 'idle' }, pool.idleCount);
        this.set({ state: 'waiting' }, pool.waitingCount);
      },
    });
  }

  /**
   * Records one finished request. `route` is the route template (`/v1/tasks/:task_uuid`), never the raw URL,
   * so label cardinality stays bounded.
   */
  observeRequest(method: string, route: string, status: number, seconds: number): void {
    this.#requestDuration.observe({ method, route, status: String(status) }, seconds);
  }

  /** The Prometheus text exposition. */
  async render(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
