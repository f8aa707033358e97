/**
 * Wire schemas of the REST API: the single source of truth for every request and response body.
 *
 * The server validates requests with them, `/openapi.json` is generated from them (`z.toJSONSchema`), and the
 * TypeScript client imports the inferred types. The wire format is snake_case; timestamps are ISO 8601 strings.
 * The schemas live by resource in `schemas-*.ts`; this module gathers them, so importers need only one path.
 */
export * from './schemas-common.js';
export * from './schemas-tasks.js';
export * from './schemas-step-detail.js';
export * from './schemas-templates.js';
export * from './schemas-dlq.js';
export * from './schemas-health.js';
export * from './schemas-bulk.js';
export * from './schemas-dashboard.js';
