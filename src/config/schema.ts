/**
 * The configuration schema. Keys are snake_case exactly as written in TOML. Nothing has a default here:
 * `config/tasker/base/*.toml` supplies every value, so the TOML files are the single, readable place where
 * defaults live, and a key missing from the merged result is an error rather than a silent fallback.
 *
 * Every leaf carries a `.describe()` text; `describeConfigSchema()` and the generated
 * `docs/configuration.md` are built from them. Each section's schema lives in its own module
 * (`schema-common.ts`, `schema-orchestration.ts`, `schema-worker.ts`); this one joins them and names the types.
 */
import { z } from 'zod';
import { commonSchema, type LOG_LEVELS } from './schema-common.js';
import { orchestrationSchema } from './schema-orchestration.js';
import { workerSchema } from './schema-worker.js';

export { LOG_FORMATS, LOG_LEVELS, TRACE_EXPORTERS } from './schema-common.js';
export { API_PERMISSIONS } from './schema-orchestration.js';

/** The zod schema of the whole merged configuration. */
export const taskerConfigSchema = z
  .strictObject({
    common: commonSchema,
    orchestration: orchestrationSchema,
    worker: workerSchema,
  })
  .describe('Tasker configuration.');

/** Recursively readonly view, matching the deep-frozen object {@link loadConfig} returns. */
export type DeepReadonly<T> = T extends readonly (infer U)[]
  ? readonly DeepReadonly<U>[]
  : T extends object
    ? { readonly [K in keyof T]: DeepReadonly<T[K]> }
    : T;

/** Recursively optional view; the type of `loadConfig`'s `overrides`. */
export type DeepPartial<T> = T extends readonly unknown[]
  ? T
  : T extends object
    ? { [K in keyof T]?: DeepPartial<T[K]> }
    : T;

/** The validated configuration (snake_case keys, as in TOML). */
export type TaskerConfig = DeepReadonly<z.output<typeof taskerConfigSchema>>;
/** `[common]` section. */
export type CommonConfig = TaskerConfig['common'];
/** `[common.database]` section. */
export type DatabaseConfig = CommonConfig['database'];
/** `[common.backoff]` section. */
export type BackoffConfig = CommonConfig['backoff'];
/** `[common.queues]` section. */
export type QueuesConfig = CommonConfig['queues'];
/** `[common.telemetry]` section. */
export type TelemetryConfig = CommonConfig['telemetry'];
/** `[orchestration]` section. */
export type OrchestrationConfig = TaskerConfig['orchestration'];
/** `[worker]` section. */
export type WorkerConfig = TaskerConfig['worker'];
/** Any `[*.channels.<name>]` table. */
export type ChannelConfig = WorkerConfig['channels']['dispatch'];
/** A value of `common.logging.level`. */
export type LogLevel = (typeof LOG_LEVELS)[number];

/** The top-level sections; each lives in its own TOML file of the same name. */
export const CONFIG_SECTIONS = ['common', 'orchestration', 'worker'] as const;
/** One of {@link CONFIG_SECTIONS}. */
export type ConfigSection = (typeof CONFIG_SECTIONS)[number];
