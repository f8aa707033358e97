/**
 * Configuration: TOML files per environment, merged, interpolated, validated and frozen.
 * See docs/configuration.md for every key.
 */
export {
  loadConfig,
  loadConfigDetailed,
  defaultConfigDir,
  availableEnvironments,
  KNOWN_ENVIRONMENTS,
  DEFAULT_ENVIRONMENT,
  OVERRIDES_SOURCE,
  type LoadConfigOptions,
  type LoadedConfig,
} from './load.js';
export {
  taskerConfigSchema,
  CONFIG_SECTIONS,
  LOG_LEVELS,
  LOG_FORMATS,
  type TaskerConfig,
  type DeepPartial,
  type DeepReadonly,
  type CommonConfig,
  type DatabaseConfig,
  type BackoffConfig,
  type QueuesConfig,
  type OrchestrationConfig,
  type WorkerConfig,
  type ChannelConfig,
  type LogLevel,
  type ConfigSection,
} from './schema.js';
export {
  describeConfigSchema,
  describeConfigTables,
  type ConfigKeyDescription,
  type ConfigTableDescription,
  type DescribeConfigOptions,
} from './describe.js';
export { renderConfigurationMarkdown, CONFIG_DOCS_COMMAND } from './docs.js';
export type { ConfigEnv } from './toml-source.js';
export { deploymentIssues } from './checks.js';
export { ENV_OVERRIDE_PREFIX, envVariableFor } from './env-overrides.js';
