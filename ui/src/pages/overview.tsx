/**
 * Overview: tasks created / completed / failed over time, active tasks by state, queue depths, open dead letters,
 * and the process's health (database, pool, breakers, channels, back-pressure). Refreshed every 5 seconds.
 */
import { useState } from 'preact/hooks';
import type { HealthBody, OverviewBody } from '../api-types.js';
import { OVERVIEW_WINDOWS } from '../chart-scale.js';
import { ErrorNote } from '../components/error-note.js';
import { BucketChart } from '../components/bucket-chart.js';
import { formatCount } from '../format.js';
import { useLoad } from '../hooks.js';
import { hasPermission } from '../permissions.js';
import { hrefOf } from '../router.js';
import { useSession } from '../session.js';
import { FINISHED_TASK_STATES, TASK_STATE_ORDER, stateLabel, toneOf } from '../states.js';

const POLL_MS = 5000;

function Stat(props: { label: string; value: string; tone?: string; href?: string; hint?: string }) {
  const body = (
    <>
      <div class="stat-label">{props.label}</div>
      <div class={`stat-value ${props.tone ? `text-${props.tone}` : ''}`}>{props.value}</div>
      {props.hint ? <div class="stat-hint">{props.hint}</div> : null}
    </>
  );
  return props.href ? (
    <a class="card stat" href={props.href}>
      {body}
    </a>
  ) : (
    <div class="card stat">{body}</div>
  );
}

function ActiveByState({ byState }: { byState: Record<string, number> }) {
  const rows = TASK_STATE_ORDER.filter((s) => !FINISHED_TASK_STATES.has(s)).map((s) => ({
    state: s,
    count: byState[s] ?? 0,
  }));
  const max = Math.max(1, ...rows.map((r) => r.count));
  return (
    <div class="hbars">
      {rows.map((r) => (
        <a key={r.state} class="hbar" href={hrefOf({ page: 'tasks', query: { state: r.state } })}>
          <span class="hbar-label">{stateLabel(r.state)}</span>
          <span class="hbar-track">
            {r.count > 0 ? (
              <span
                class={`hbar-fill tone-${toneOf(r.state)}`}
                style={{ width: `${(r.count / max) * 100}%` }}
              />
            ) : null}
          </span>
          <span class="hbar-value">{formatCount(r.count)}</span>
        </a>
      ))}
    </div>
  );
}

function QueueDepths({ queues }: { queues: OverviewBody['queue_depths'] }) {
  if (queues.length === 0) return <p class="muted">No queues yet.</p>;
  const max = Math.max(1, ...queues.map((q) => q.depth));
  return (
    <div class="hbars">
      {[...queues]
        .sort((a, b) => b.depth - a.depth || a.queue.localeCompare(b.queue))
        .map((q) => (
          <div key={q.queue} class="hbar">
            <span class="hbar-label mono">{q.queue}</span>
            <span class="hbar-track">
              {q.depth > 0 ? (
                <span class="hbar-fill tone-queued" style={{ width: `${(q.depth / max) * 100}%` }} />
              ) : null}
            </span>
            <span class="hbar-value">{formatCount(q.depth)}</span>
          </div>
        ))}
    </div>
  );
}

const HEALTH_TONE = { healthy: 'done', degraded: 'retry', unhealthy: 'failed' } as const;

function HealthCard({ health }: { health: HealthBody }) {
  return (
    <div class="card">
      <h2>
        Health <span class={`badge tone-${HEALTH_TONE[health.status]}`}>{health.status}</span>
      </h2>
      <dl class="facts">
        <dt>Database</dt>
        <dd>
          {health.database.ok
            ? `ok, ${health.database.latency_ms === null ? '–' : Math.round(health.database.latency_ms)} ms`
            : (health.database.message ?? 'down')}
        </dd>
        <dt>Pool</dt>
        <dd>
          {health.pool.total} connections, {health.pool.idle} idle, {health.pool.waiting} waiting
          {health.pool.acquire_p95_ms !== null ? `, p95 acquire ${health.pool.acquire_p95_ms} ms` : ''}
        </dd>
        <dt>Back-pressure</dt>
        <dd>{health.backpressure.overloaded ? `active: ${health.backpressure.reason ?? ''}` : 'none'}</dd>
        <dt>Event loop</dt>
        <dd>p99 delay {health.event_loop.delay_p99_ms.toFixed(1)} ms</dd>
      </dl>
      {health.degraded_reasons.length > 0 ? (
        <ul class="reasons">
          {health.degraded_reasons.map((r) => (
            <li key={r}>{r}</li>
          ))}
        </ul>
      ) : null}
      <h3>Circuit breakers</h3>
      <div class="chips">
        {health.circuit_breakers.length === 0 ? <span class="muted">none</span> : null}
        {health.circuit_breakers.map((b) => (
          <span
            key={b.name}
            class={`badge tone-${b.state === 'closed' ? 'done' : b.state === 'open' ? 'failed' : 'retry'}`}
          >
            {b.name}: {b.state.replace('_', ' ')}
          </span>
        ))}
      </div>
      <h3>Channels</h3>
      {health.channels.length === 0 ? <p class="muted">No in-process channels in this process.</p> : null}
      <div class="hbars">
        {health.channels.map((c) => (
          <div key={c.name} class="hbar" title={`${c.depth} / ${c.capacity}`}>
            <span class="hbar-label mono">{c.name}</span>
            <span class="hbar-track">
              <span
                class={`hbar-fill tone-${c.closed || c.saturation >= 0.8 ? 'failed' : 'done'}`}
                style={{ width: `${Math.min(100, c.saturation * 100)}%` }}
              />
            </span>
            <span class="hbar-value">{Math.round(c.saturation * 100)}%</span>
          </div>
        ))}
      </div>
    </div>
  );
}

export function Overview() {
  const { api, principal } = useSession();
  const [windowKey, setWindowKey] = useState<(typeof OVERVIEW_WINDOWS)[number]['key']>('1h');
  const win = OVERVIEW_WINDOWS.find((w) => w.key === windowKey) ?? OVERVIEW_WINDOWS[0];
  const overview = useLoad(() => api.overview(win.windowMinutes, win.bucketMinutes), [api, win], POLL_MS);
  const canHealth = hasPermission(principal, 'system:read');
  const health = useLoad(
    () => (canHealth ? api.health() : Promise.resolve(undefined)),
    [api, canHealth],
    POLL_MS,
  );
  const data = overview.data;
  const total = (key: 'created' | 'completed' | 'failed') =>
    data?.buckets.reduce((a, b) => a + b[key], 0) ?? 0;
  const active = data
    ? Object.entries(data.tasks_by_state)
        .filter(([s]) => !FINISHED_TASK_STATES.has(s))
        .reduce((a, [, n]) => a + n, 0)
    : 0;
  return (
    <section class="page" data-page="overview">
      <header class="page-head">
        <h1>Overview</h1>
        <div class="segmented" role="group" aria-label="Window">
          {OVERVIEW_WINDOWS.map((w) => (
            <button
              key={w.key}
              type="button"
              class={w.key === windowKey ? 'active' : undefined}
              onClick={() => setWindowKey(w.key)}
            >
              {w.label}
            </button>
          ))}
        </div>
      </header>
      <ErrorNote error={overview.error} what="load the overview" />
      <div class="stats">
        <Stat label="Active tasks" value={formatCount(active)} href="#/tasks" tone="running" />
        <Stat label={`Created (${win.label})`} value={formatCount(total('created'))} />
        <Stat label={`Completed (${win.label})`} value={formatCount(total('completed'))} tone="done" />
        <Stat
          label={`Failed (${win.label})`}
          value={formatCount(total('failed'))}
          tone={total('failed') > 0 ? 'failed' : undefined}
          href={hrefOf({ page: 'tasks', query: { state: 'error' } })}
        />
        <Stat
          label="Open dead letters"
          value={formatCount(data?.dlq_open ?? 0)}
          tone={(data?.dlq_open ?? 0) > 0 ? 'failed' : undefined}
          href="#/dlq"
        />
        {health.data ? (
          <Stat label="Health" value={health.data.status} tone={HEALTH_TONE[health.data.status]} />
        ) : null}
      </div>
      <div class="card">
        <h2>Tasks over time</h2>
        {data ? (
          <BucketChart label="Tasks created and finished over time" buckets={data.buckets} />
        ) : (
          <p class="muted">Loading…</p>
        )}
      </div>
      <div class="columns">
        <div class="card">
          <h2>Active tasks by state</h2>
          {data ? <ActiveByState byState={data.tasks_by_state} /> : null}
        </div>
        <div class="card">
          <h2>Queue depths</h2>
          {data ? <QueueDepths queues={data.queue_depths} /> : null}
        </div>
      </div>
      {health.data ? (
        <HealthCard health={health.data} />
      ) : (
        <ErrorNote error={health.error} what="read health" />
      )}
    </section>
  );
}
