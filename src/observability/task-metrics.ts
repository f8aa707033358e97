import { Counter, type Metric } from 'prom-client';
import { MetricSet } from './metric-set.js';

/** Tasks one result batch finalized, for one template and final state (a row of `finalized` in SQL). */
export interface FinalizedTaskGroup {
  namespace: string;
  /** Template name (all versions together). */
  template: string;
  state: 'complete' | 'error';
  count: number;
}

/**
 * Counters of task creation and task outcomes by template. Labels are the namespace and the template name
 * only (never a task id or version), so the number of series follows the number of deployed templates.
 *
 * Owned by an orchestrator (outcomes, staleness, tasks it creates); the API server counts the tasks it creates
 * on the same object when it runs in the orchestrator's process.
 */
export class TaskMetrics extends MetricSet {
  readonly #created = new Counter({
    name: 'tasker_tasks_created_total',
    help: 'Tasks created by this process (new tasks only, not idempotent repeats), by template.',
    labelNames: ['namespace', 'template'] as const,
    registers: [],
  });
  readonly #completed = new Counter({
    name: 'tasker_tasks_completed_total',
    help: 'Tasks this process finalized as complete (all steps succeeded), by template.',
    labelNames: ['namespace', 'template'] as const,
    registers: [],
  });
  readonly #failed = new Counter({
    name: 'tasker_tasks_failed_total',
    help: 'Tasks this process finalized as error (a step failed permanently), by template.',
    labelNames: ['namespace', 'template'] as const,
    registers: [],
  });
  readonly #stale = new Counter({
    name: 'tasker_tasks_stale_total',
    help: 'Tasks the staleness detector of this process moved to error, by the state they were stuck in.',
    labelNames: ['state'] as const,
    registers: [],
  });
  protected readonly metrics: readonly Metric[] = [this.#created, this.#completed, this.#failed, this.#stale];

  /** Counts one newly created task. */
  taskCreated(namespace: string, template: string): void {
    this.#created.inc({ namespace, template });
  }

  /** Counts the tasks one result batch finalized. */
  tasksFinalized(groups: readonly FinalizedTaskGroup[]): void {
    for (const g of groups) {
      const counter = g.state === 'complete' ? this.#completed : this.#failed;
      counter.inc({ namespace: g.namespace, template: g.template }, g.count);
    }
  }

  /** Counts tasks the staleness detector moved to error (dry-run findings are not counted). */
  tasksStale(tasks: readonly { state: string; action: string }[]): void {
    for (const t of tasks) if (t.action === 'moved_to_error') this.#stale.inc({ state: t.state });
  }
}
