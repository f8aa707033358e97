/** The worker's two database pools, sized and limited from configuration. */
import type pg from 'pg';
import type { TaskerConfig } from '../config/index.js';
import { createPool } from '../db/pool.js';

/** The pool for claims, heartbeats and hand-backs: one connection per claim loop plus two. */
export function claimPool(config: TaskerConfig, namespaces: number): pg.Pool {
  const db = config.common.database;
  return createPool({
    url: db.url,
    maxConnections: Math.max(2, Math.min(db.pool.max_connections, namespaces + 2)),
    idleTimeoutMs: db.pool.idle_timeout_ms,
    acquireTimeoutMs: db.pool.acquire_timeout_ms,
    statementTimeoutMs: db.statement_timeout_ms,
    applicationName: 'tasker-worker',
  });
}

/**
 * Completions get their own pool and time limit: a slow claim can never hold up writing results, and a write is
 * bounded by its own timeout rather than by the handler's or the caller's cancellation.
 */
export function completionPool(config: TaskerConfig): pg.Pool {
  const db = config.common.database;
  const w = config.worker;
  return createPool({
    url: db.url,
    maxConnections: w.max_concurrent_completions,
    idleTimeoutMs: db.pool.idle_timeout_ms,
    acquireTimeoutMs: db.pool.acquire_timeout_ms,
    statementTimeoutMs: w.completion_timeout_ms,
    queryTimeoutMs: w.completion_timeout_ms + 1000,
    applicationName: 'tasker-worker-completions',
  });
}
