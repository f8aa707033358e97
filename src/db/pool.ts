import pg from 'pg';

/** Connection settings for one pool. */
export interface PoolOptions {
  /** PostgreSQL connection URL. */
  url: string;
  maxConnections: number;
  idleTimeoutMs: number;
  /** How long to wait for a free connection before failing. */
  acquireTimeoutMs: number;
  /** Server-side statement timeout (0 = none); set at connect time, so it costs no round trip. */
  statementTimeoutMs: number;
  /** Client-side timeout for every query on this pool (0 = none). */
  queryTimeoutMs?: number;
  /** Shown in pg_stat_activity. */
  applicationName: string;
}

/** A pg pool configured for Tasker. BIGINT stays a string (message ids can exceed 2^53 in theory). */
export function createPool(options: PoolOptions): pg.Pool {
  const config: pg.PoolConfig = {
    connectionString: options.url,
    max: options.maxConnections,
    idleTimeoutMillis: options.idleTimeoutMs,
    connectionTimeoutMillis: options.acquireTimeoutMs,
    application_name: options.applicationName,
  };
  if (options.statementTimeoutMs > 0) config.statement_timeout = options.statementTimeoutMs;
  if (options.queryTimeoutMs && options.queryTimeoutMs > 0) config.query_timeout = options.queryTimeoutMs;
  const pool = new pg.Pool(config);
  // An idle client that loses its connection emits 'error' on the pool; without a listener that would crash
  // the process. The next query simply gets a fresh connection.
  pool.on('error', () => {});
  return pool;
}

/** The minimal query surface the engine needs: a pool or a checked-out client. */
export type Queryable = Pick<pg.Pool, 'query'> | Pick<pg.PoolClient, 'query'>;
