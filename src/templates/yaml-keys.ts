/**
 * The vocabulary of the YAML template format: which keys each level accepts (and which it accepts and
 * ignores), how retry keys map to {@link RetryPolicy} fields, other spellings of step types, and the small
 * helpers every part of the parser uses to read plain YAML values and describe wrong ones.
 */
import type { PathSegment } from './path.js';
import { StepType, type RetryPolicy } from './types.js';

/** Top-level keys Tasker reads. */
export const TOP_LEVEL_KEYS = new Set([
  'name',
  'namespace_name',
  'namespace',
  'version',
  'description',
  'steps',
  'identity_strategy',
]);
/** Top-level keys of the reference format that Tasker accepts and ignores. */
export const IGNORED_TOP_LEVEL_KEYS: ReadonlySet<string> = new Set([
  'metadata',
  'lifecycle',
  'input_schema',
  'environments',
  'system_dependencies',
  'domain_events',
  'loaded_from',
]);
/** Step keys Tasker reads. */
export const STEP_KEYS = new Set([
  'name',
  'description',
  'handler',
  'type',
  'step_type',
  'dependencies',
  'depends_on',
  'retry',
  'timeout_seconds',
  'publishes_events',
  'batch_config',
]);
/** Step keys of the reference format that Tasker accepts and ignores. */
export const IGNORED_STEP_KEYS: ReadonlySet<string> = new Set(['system_dependency', 'result_schema']);
/** Keys of a `handler` mapping. */
export const HANDLER_KEYS = new Set(['callable', 'initialization', 'method', 'resolver']);
/**
 * Keys of a `publishes_events` entry. `schema` (a JSON Schema of the payload, in the reference format) is
 * accepted as documentation for consumers and not enforced; `delivery_mode` is the reference's spelling.
 */
export const EVENT_KEYS = new Set([
  'name',
  'description',
  'condition',
  'delivery',
  'delivery_mode',
  'publisher',
  'schema',
]);
/** Retry keys → the {@link RetryPolicy} field each sets. */
// A Map, not an object literal, so that keys such as `constructor` in a file cannot hit Object.prototype.
export const RETRY_KEYS = new Map<string, keyof RetryPolicy | 'backoff'>([
  ['retryable', 'retryable'],
  ['max_attempts', 'maxAttempts'],
  ['limit', 'maxAttempts'],
  ['backoff', 'backoff'],
  ['backoff_base_ms', 'backoffBaseMs'],
  ['max_backoff_ms', 'maxBackoffMs'],
  ['backoff_multiplier', 'backoffMultiplier'],
  ['jitter', 'jitter'],
]);
/** The key each retry field is written with when the file did not spell it (for issue paths). */
export const RETRY_YAML_KEY: Record<keyof RetryPolicy, string> = {
  retryable: 'retryable',
  maxAttempts: 'max_attempts',
  backoffBaseMs: 'backoff_base_ms',
  maxBackoffMs: 'max_backoff_ms',
  backoffMultiplier: 'backoff_multiplier',
  jitter: 'jitter',
};
/** Other spellings of step types found in the reference's docs. */
export const STEP_TYPE_ALIASES = new Map<string, StepType>([
  ['decision_point', StepType.Decision],
  ['deferred', StepType.DeferredConvergence],
]);
/** Keys of a batch worker's `batch_config`; the reference's advisory keys are accepted and documented as such. */
export const BATCH_CONFIG_KEYS = new Set([
  'failure_strategy',
  'batch_size',
  'max_batches',
  'parallelism',
  'cursor_field',
  'checkpoint_interval',
]);

/** A parse problem, at the path of the offending key as written in the file. */
export interface ParseIssue {
  yamlPath: PathSegment[];
  message: string;
}

/**
 * Reports a problem at `yamlPath`; with `canonical`, rule checks on that normalized path (and below) are
 * suppressed, since they would only repeat it.
 */
export type Report = (yamlPath: PathSegment[], message: string, canonical?: PathSegment[]) => void;

/** Reads a required string, reporting it when missing or of another type (and then returning ''). */
export type RequireString = (
  value: unknown,
  yamlPath: PathSegment[],
  canonical: PathSegment[],
  label: string,
) => string;

/** A YAML mapping as read by `toJS`. */
export type Dict = Record<string, unknown>;

/** Whether `v` is a YAML mapping. */
export function isDict(v: unknown): v is Dict {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** How a wrong value is named in a message: its kind, and its value for a scalar. */
export function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  return `${typeof v} ${JSON.stringify(v)}`;
}
