/** Task templates: the YAML format, the TypeScript DSL, validation and helpers. */
export {
  BATCH_FAILURE_STRATEGIES,
  DEFAULT_BATCH_CONFIG,
  STEP_TYPES,
  EVENT_CONDITIONS,
  EVENT_DELIVERY_MODES,
  IDENTITY_STRATEGIES,
  StepType,
  templateKey,
} from './types.js';
export type {
  BatchConfig,
  BatchFailureStrategy,
  EventCondition,
  EventDeclaration,
  EventDeliveryMode,
  IdentityStrategy,
  RetryPolicy,
  StepDefinition,
  TaskTemplate,
} from './types.js';
export { FALLBACK_RETRY_DEFAULTS, RETRY_LIMITS, resolveRetryDefaults, resolveRetryPolicy } from './retry.js';
export type { RetryDefaults } from './retry.js';
export { parseYamlTemplate, IGNORED_TOP_LEVEL_KEYS, IGNORED_STEP_KEYS } from './yaml.js';
export { defineTemplate, TemplateBuilder } from './dsl.js';
export type { EventDeclarationOptions, NewStepName, StepOptions, TemplateHeader } from './dsl.js';
export {
  validateTemplate,
  assertValidTemplate,
  topologicalOrder,
  decisionDepths,
  NAMESPACE_PATTERN,
  NAMESPACE_MAX_LENGTH,
  TEMPLATE_NAME_PATTERN,
  TEMPLATE_NAME_MAX_LENGTH,
  STEP_NAME_PATTERN,
  STEP_NAME_MAX_LENGTH,
  SEMVER_PATTERN,
  VERSION_MAX_LENGTH,
} from './validate.js';
export type { ValidateOptions } from './validate.js';
export { loadTemplatesFromDir } from './load.js';
export { canonicalTemplateJson, templateFingerprint, stableStringify } from './canonical.js';
