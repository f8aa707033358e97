import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { ApiMetrics } from '../../src/api/metrics.js';
import type { Queryable } from '../../src/db/pool.js';
import { registerEngineMetrics } from '../../src/observability/engine-metrics.js';
import { EventLoopMonitor, registerEventLoopMetrics } from '../../src/observability/event-loop.js';
import { TaskMetrics } from '../../src/observability/task-metrics.js';
import { WorkerMetrics } from '../../src/observability/worker-metrics.js';
import type pg from 'pg';

const docs = fileURLToPath(new URL('../../docs/operations/', import.meta.url));

/** Every metric name Tasker serves (registered without touching a database: names only). */
function servedMetricNames(): Set<string> {
  const fakePool = { totalCount: 0, idleCount: 0, waitingCount: 0 } as unknown as pg.Pool;
  const api = new ApiMetrics(fakePool);
  const registry = new Registry();
  registerEngineMetrics(registry, { db: {} as Queryable, pool: fakePool });
  // Task counters (orchestrator), step metrics (worker), event-loop delay (every process).
  new TaskMetrics().registerOn(registry);
  new WorkerMetrics().registerOn(registry);
  const loop = new EventLoopMonitor();
  loop.stop();
  registerEventLoopMetrics(registry, loop);
  const names = new Set<string>();
  for (const r of [api.registry, registry]) {
    for (const m of r.getMetricsAsArray()) {
      names.add(m.name);
      // Histograms expose _bucket, _sum and _count series.
      for (const suffix of ['_bucket', '_sum', '_count']) names.add(`${m.name}${suffix}`);
    }
  }
  return names;
}

function referencedMetrics(text: string): string[] {
  return [...new Set(text.match(/\btasker_[a-z_]+/g) ?? [])];
}

describe('operations documents refer only to metrics that exist', () => {
  const served = servedMetricNames();

  it('Prometheus alert rules', async () => {
    const text = await readFile(`${docs}prometheus-alerts.yml`, 'utf8');
    const rules = (parse(text) as { groups: { rules: { alert: string; expr: string }[] }[] }).groups.flatMap(
      (g) => g.rules,
    );
    expect(rules.length).toBeGreaterThanOrEqual(6);
    for (const rule of rules) {
      const used = referencedMetrics(rule.expr);
      expect(used.length, rule.alert).toBeGreaterThan(0);
      for (const name of used) expect(served.has(name), `${rule.alert} uses ${name}`).toBe(true);
    }
  });

  it('Grafana dashboard', async () => {
    const dashboard = JSON.parse(await readFile(`${docs}grafana-dashboard.json`, 'utf8')) as {
      panels: { title: string; targets: { expr: string }[] }[];
    };
    expect(dashboard.panels.length).toBeGreaterThanOrEqual(8);
    for (const panel of dashboard.panels) {
      for (const target of panel.targets) {
        for (const name of referencedMetrics(target.expr)) {
          expect(served.has(name), `${panel.title} uses ${name}`).toBe(true);
        }
      }
    }
  });
});
