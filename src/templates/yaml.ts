/**
 * Parses a YAML task template (spec §5.1) into the normalized {@link TaskTemplate}, reporting every problem
 * with the path of the offending key as written in the file and its line.
 *
 * Accepted on top of the reference format:
 * - top-level `namespace` as an alias of `namespace_name` (the reference's docs use it, its code does not);
 * - `handler: "Name"` as shorthand for `handler: { callable: "Name" }`;
 * - `retry.limit` as the legacy spelling of `retry.max_attempts` (the reference ignores it, silently using 3);
 * - `retry.backoff_multiplier` and `retry.jitter`, which the reference does not have.
 *
 * Accepted and ignored, because Tasker does not act on them (yet): top-level `metadata`, `lifecycle`,
 * `input_schema`, `environments`, `system_dependencies`, `domain_events`, `loaded_from`;
 * step-level `system_dependency`, `publishes_events`, `result_schema`, `batch_config`; `handler.resolver`;
 * `handler.method: call` and `retry.backoff: exponential` (the only values that mean what Tasker does).
 *
 * Any other key is reported as unknown, so that a misspelt `depends_on` cannot silently drop a dependency.
 */
import { isAlias, isMap, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node } from 'yaml';
import { TemplateValidationError, type ValidationIssue } from '../errors.js';
import { formatPath, isPathWithin, type PathSegment } from './path.js';
import { resolveRetryDefaults, type RetryDefaults } from './retry.js';
import { collectIssues, invalidSummary } from './validate.js';
import {
  IDENTITY_STRATEGIES,
  DEFAULT_BATCH_CONFIG,
  STEP_TYPES,
  StepType,
  type BatchFailureStrategy,
  type EventCondition,
  type EventDeclaration,
  type EventDeliveryMode,
  type IdentityStrategy,
  type RetryPolicy,
  type StepDefinition,
  type TaskTemplate,
} from './types.js';

const TOP_LEVEL_KEYS = new Set([
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
const STEP_KEYS = new Set([
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
const HANDLER_KEYS = new Set(['callable', 'initialization', 'method', 'resolver']);
/**
 * Keys of a `publishes_events` entry. `schema` (a JSON Schema of the payload, in the reference format) is
 * accepted as documentation for consumers and not enforced; `delivery_mode` is the reference's spelling.
 */
const EVENT_KEYS = new Set([
  'name',
  'description',
  'condition',
  'delivery',
  'delivery_mode',
  'publisher',
  'schema',
]);
// A Map, not an object literal, so that keys such as `constructor` in a file cannot hit Object.prototype.
const RETRY_KEYS = new Map<string, keyof RetryPolicy | 'backoff'>([
  ['retryable', 'retryable'],
  ['max_attempts', 'maxAttempts'],
  ['limit', 'maxAttempts'],
  ['backoff', 'backoff'],
  ['backoff_base_ms', 'backoffBaseMs'],
  ['max_backoff_ms', 'maxBackoffMs'],
  ['backoff_multiplier', 'backoffMultiplier'],
  ['jitter', 'jitter'],
]);
const RETRY_YAML_KEY: Record<keyof RetryPolicy, string> = {
  retryable: 'retryable',
  maxAttempts: 'max_attempts',
  backoffBaseMs: 'backoff_base_ms',
  maxBackoffMs: 'max_backoff_ms',
  backoffMultiplier: 'backoff_multiplier',
  jitter: 'jitter',
};
/** Other spellings of step types found in the reference's docs. */
const STEP_TYPE_ALIASES = new Map<string, StepType>([
  ['decision_point', StepType.Decision],
  ['deferred', StepType.DeferredConvergence],
]);
/** Keys of a batch worker's `batch_config`; the reference's advisory keys are accepted and documented as such. */
const BATCH_CONFIG_KEYS = new Set([
  'failure_strategy',
  'batch_size',
  'max_batches',
  'parallelism',
  'cursor_field',
  'checkpoint_interval',
]);

/** Where each normalized field came from in the file, to report issues against the keys the author wrote. */
interface StepOrigin {
  yamlIndex: number;
  handlerShorthand: boolean;
  typeKey: string;
  depsKey: string;
  /** Normalized dependency index → index in the YAML list (they differ once duplicates are dropped). */
  depIndex: number[];
  retryKeys: Partial<Record<keyof RetryPolicy, string>>;
  /** Normalized event index → [index in the YAML list, key its delivery was spelled with]. */
  events: [number, string][];
}

interface Origin {
  namespaceKey: string;
  steps: StepOrigin[];
}

interface ParseIssue {
  yamlPath: PathSegment[];
  message: string;
}

type Dict = Record<string, unknown>;

function isDict(v: unknown): v is Dict {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  return `${typeof v} ${JSON.stringify(v)}`;
}

/**
 * Parses and validates one YAML template.
 * @param text YAML source.
 * @param source File name (or other label) recorded on every issue.
 * @param retryDefaults Values for retry fields a step leaves out; missing ones use the built-in fallbacks.
 * @throws TemplateValidationError listing every problem found (malformed YAML, wrong types, rule violations).
 */
export function parseYamlTemplate(
  text: string,
  source?: string,
  retryDefaults?: Partial<RetryDefaults>,
): TaskTemplate {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const withSource = (issue: ValidationIssue): ValidationIssue =>
    source === undefined ? issue : { ...issue, source };

  if (doc.errors.length > 0) {
    // A syntax error leaves the structure unreliable, so report the syntax errors alone.
    const issues = doc.errors.map((e) =>
      withSource({
        path: '',
        message: `malformed YAML: ${e.message}`,
        line: lineCounter.linePos(e.pos[0]).line,
      }),
    );
    throw new TemplateValidationError(invalidSummary(undefined, source, issues.length), issues);
  }

  let raw: unknown;
  try {
    raw = doc.toJS();
  } catch (err) {
    // toJS throws on alias bombs (too many alias expansions) and similar abuse.
    const issue = withSource({ path: '', message: `cannot read YAML: ${(err as Error).message}` });
    throw new TemplateValidationError(invalidSummary(undefined, source, 1), [issue]);
  }

  const defaults = resolveRetryDefaults(retryDefaults);
  const { template, origin, issues: parseIssues, suppressed } = normalize(raw, defaults);

  // Rule violations on fields whose value was already reported as malformed would only repeat the problem.
  const ruleIssues = collectIssues(template).filter(
    (i) => !suppressed.some((s) => (s.exact ? sameRawPath(i.path, s.path) : isPathWithin(i.path, s.path))),
  );

  const located: { issue: ValidationIssue; order: number }[] = [];
  const locate = (yamlPath: PathSegment[], message: string): void => {
    const issue: ValidationIssue = { path: formatPath(yamlPath), message };
    const line = lineOf(doc, lineCounter, yamlPath);
    if (line !== undefined) issue.line = line;
    located.push({ issue: withSource(issue), order: located.length });
  };
  for (const i of parseIssues) locate(i.yamlPath, i.message);
  for (const i of ruleIssues) locate(toYamlPath(i.path, origin), i.message);

  if (located.length > 0) {
    // In file order, so the list reads top to bottom; issues without a line keep their place at the end.
    located.sort(
      (a, b) =>
        (a.issue.line ?? Number.MAX_SAFE_INTEGER) - (b.issue.line ?? Number.MAX_SAFE_INTEGER) ||
        a.order - b.order,
    );
    const issues = located.map((l) => l.issue);
    throw new TemplateValidationError(invalidSummary(template, source, issues.length), issues);
  }
  return template;
}

function sameRawPath(a: readonly PathSegment[], b: readonly PathSegment[]): boolean {
  return a.length === b.length && a.every((s, i) => s === b[i]);
}

interface Suppression {
  path: PathSegment[];
  exact: boolean;
}

interface Normalized {
  template: TaskTemplate;
  origin: Origin;
  issues: ParseIssue[];
  suppressed: Suppression[];
}

function normalize(raw: unknown, defaults: RetryDefaults): Normalized {
  const issues: ParseIssue[] = [];
  const suppressed: Suppression[] = [];
  const origin: Origin = { namespaceKey: 'namespace_name', steps: [] };
  const template: TaskTemplate = { namespace: '', name: '', version: '', steps: [] };
  const report = (yamlPath: PathSegment[], message: string, canonical?: PathSegment[]): void => {
    issues.push({ yamlPath, message });
    if (canonical) suppressed.push({ path: canonical, exact: false });
  };

  if (!isDict(raw)) {
    report(
      [],
      `a template must be a YAML mapping with name, namespace_name, version and steps; got ${describe(raw)}`,
      [],
    );
    return { template, origin, issues, suppressed };
  }

  for (const key of Object.keys(raw)) {
    if (!TOP_LEVEL_KEYS.has(key) && !IGNORED_TOP_LEVEL_KEYS.has(key)) report([key], `unknown key '${key}'`);
  }

  /** A required string; returns '' (and suppresses rule checks on it) when missing or not a string. */
  const requireString = (
    value: unknown,
    yamlPath: PathSegment[],
    canonical: PathSegment[],
    label: string,
  ): string => {
    if (typeof value === 'string') return value;
    if (value === undefined || value === null) report(yamlPath, `${label} is required`, canonical);
    else report(yamlPath, `${label} must be a string; got ${describe(value)}`, canonical);
    return '';
  };

  if (Object.hasOwn(raw, 'namespace_name') && Object.hasOwn(raw, 'namespace')) {
    report(['namespace'], "use either 'namespace_name' or its alias 'namespace', not both", ['namespace']);
  } else if (Object.hasOwn(raw, 'namespace')) {
    origin.namespaceKey = 'namespace';
  }
  template.namespace = requireString(
    raw[origin.namespaceKey],
    [origin.namespaceKey],
    ['namespace'],
    'namespace_name',
  );
  template.name = requireString(raw.name, ['name'], ['name'], 'name');

  if (typeof raw.version === 'number') {
    // `version: 1.0` is read by YAML as the number 1; say how to fix it rather than just "must be a string".
    report(
      ['version'],
      `version must be a quoted MAJOR.MINOR.PATCH string such as "1.0.0"; YAML read this value as the number ${String(raw.version)}`,
      ['version'],
    );
  } else {
    template.version = requireString(raw.version, ['version'], ['version'], 'version');
  }

  if (raw.description !== undefined && raw.description !== null) {
    if (typeof raw.description === 'string') template.description = raw.description;
    else report(['description'], `description must be a string; got ${describe(raw.description)}`);
  }
  if (raw.identity_strategy !== undefined && raw.identity_strategy !== null) {
    const v = raw.identity_strategy;
    if (typeof v === 'string' && (IDENTITY_STRATEGIES as readonly string[]).includes(v)) {
      template.identityStrategy = v as IdentityStrategy;
    } else {
      report(
        ['identity_strategy'],
        `identity_strategy must be one of ${IDENTITY_STRATEGIES.join(', ')}; got ${describe(v)}`,
      );
    }
  }

  if (raw.steps !== undefined && raw.steps !== null && !Array.isArray(raw.steps)) {
    report(['steps'], `steps must be a list; got ${describe(raw.steps)}`, ['steps']);
  } else if (Array.isArray(raw.steps)) {
    raw.steps.forEach((item: unknown, yamlIndex) => {
      if (!isDict(item)) {
        report(['steps', yamlIndex], `each step must be a mapping; got ${describe(item)}`);
        // Its absence must not also be reported as "no steps".
        suppressed.push({ path: ['steps'], exact: true });
        return;
      }
      const index = template.steps.length;
      const { step, stepOrigin } = normalizeStep(item, yamlIndex, index, defaults, report, requireString);
      template.steps.push(step);
      origin.steps.push(stepOrigin);
    });
  }

  return { template, origin, issues, suppressed };
}

function normalizeStep(
  raw: Dict,
  yamlIndex: number,
  index: number,
  defaults: RetryDefaults,
  report: (yamlPath: PathSegment[], message: string, canonical?: PathSegment[]) => void,
  requireString: (value: unknown, yamlPath: PathSegment[], canonical: PathSegment[], label: string) => string,
): { step: StepDefinition; stepOrigin: StepOrigin } {
  const y = (...rest: PathSegment[]): PathSegment[] => ['steps', yamlIndex, ...rest];
  const c = (...rest: PathSegment[]): PathSegment[] => ['steps', index, ...rest];
  const stepOrigin: StepOrigin = {
    yamlIndex,
    handlerShorthand: false,
    typeKey: 'type',
    depsKey: 'depends_on',
    depIndex: [],
    retryKeys: {},
    events: [],
  };

  for (const key of Object.keys(raw)) {
    if (!STEP_KEYS.has(key) && !IGNORED_STEP_KEYS.has(key)) report(y(key), `unknown step key '${key}'`);
  }

  const name = requireString(raw.name, y('name'), c('name'), 'step name');
  const step: StepDefinition = {
    name,
    handler: '',
    type: StepType.Standard,
    dependsOn: [],
    retry: { retryable: true, ...defaults },
    inputs: {},
  };

  if (raw.description !== undefined && raw.description !== null) {
    if (typeof raw.description === 'string') step.description = raw.description;
    else report(y('description'), `description must be a string; got ${describe(raw.description)}`);
  }

  // handler: "Name" | { callable, initialization?, method?, resolver? }
  const handler = raw.handler;
  if (typeof handler === 'string') {
    stepOrigin.handlerShorthand = true;
    step.handler = handler;
  } else if (isDict(handler)) {
    for (const key of Object.keys(handler)) {
      if (!HANDLER_KEYS.has(key)) report(y('handler', key), `unknown handler key '${key}'`);
    }
    step.handler = requireString(
      handler.callable,
      y('handler', 'callable'),
      c('handler'),
      'handler.callable',
    );
    const init = handler.initialization;
    if (isDict(init)) step.inputs = init;
    else if (init !== undefined && init !== null) {
      report(
        y('handler', 'initialization'),
        `initialization must be a mapping; got ${describe(init)}`,
        c('inputs'),
      );
    }
    if (handler.method !== undefined && handler.method !== null && handler.method !== 'call') {
      report(
        y('handler', 'method'),
        `handler.method ${describe(handler.method)} is not supported; register a handler under its own name instead`,
      );
    }
    if (handler.resolver !== undefined && handler.resolver !== null && typeof handler.resolver !== 'string') {
      report(y('handler', 'resolver'), `resolver must be a string; got ${describe(handler.resolver)}`);
    }
  } else if (handler === undefined || handler === null) {
    report(
      y('handler'),
      `step '${name}' needs a handler (handler: Name, or handler: { callable: Name })`,
      c('handler'),
    );
  } else {
    report(
      y('handler'),
      `handler must be a name or a mapping with 'callable'; got ${describe(handler)}`,
      c('handler'),
    );
  }

  // type (alias step_type)
  if (Object.hasOwn(raw, 'type') && Object.hasOwn(raw, 'step_type')) {
    report(y('step_type'), "use either 'type' or its alias 'step_type', not both", c('type'));
  } else if (Object.hasOwn(raw, 'step_type')) {
    stepOrigin.typeKey = 'step_type';
  }
  const type = raw[stepOrigin.typeKey];
  if (type !== undefined && type !== null) {
    const known =
      typeof type === 'string'
        ? (STEP_TYPES.find((t) => t === type) ?? STEP_TYPE_ALIASES.get(type))
        : undefined;
    if (known) step.type = known;
    else {
      report(
        y(stepOrigin.typeKey),
        `unknown step type ${describe(type)}; expected one of ${STEP_TYPES.join(', ')}`,
        c('type'),
      );
    }
  }

  // batch_config (batch workers): failure_strategy, batch_size, max_batches; the rest is advisory.
  const batch = raw.batch_config;
  if (isDict(batch)) {
    for (const key of Object.keys(batch)) {
      if (!BATCH_CONFIG_KEYS.has(key)) report(y('batch_config', key), `unknown batch_config key '${key}'`);
    }
    const strategy = batch.failure_strategy ?? DEFAULT_BATCH_CONFIG.failureStrategy;
    step.batch = {
      // The reference's default spelling means the same as ours.
      failureStrategy: (strategy === 'continue_on_failure' ? 'continue' : strategy) as BatchFailureStrategy,
      batchSize: (batch.batch_size ?? DEFAULT_BATCH_CONFIG.batchSize) as number,
      maxBatches: (batch.max_batches ?? DEFAULT_BATCH_CONFIG.maxBatches) as number,
    };
  } else if (batch !== undefined && batch !== null) {
    report(y('batch_config'), `batch_config must be a mapping; got ${describe(batch)}`);
  } else if (step.type === StepType.BatchWorker) {
    step.batch = { ...DEFAULT_BATCH_CONFIG };
  }

  // dependencies (alias depends_on)
  if (Object.hasOwn(raw, 'dependencies') && Object.hasOwn(raw, 'depends_on')) {
    report(y('dependencies'), "use either 'depends_on' or its alias 'dependencies', not both");
  } else if (Object.hasOwn(raw, 'dependencies')) {
    stepOrigin.depsKey = 'dependencies';
  }
  const deps = raw[stepOrigin.depsKey];
  if (Array.isArray(deps)) {
    const seen = new Set<string>();
    deps.forEach((dep: unknown, j) => {
      if (typeof dep !== 'string') {
        report(y(stepOrigin.depsKey, j), `a dependency must be a step name; got ${describe(dep)}`);
      } else if (!seen.has(dep)) {
        // Listing a dependency twice is harmless in a file; keep the first and drop the rest.
        seen.add(dep);
        stepOrigin.depIndex.push(j);
        step.dependsOn.push(dep);
      }
    });
  } else if (deps !== undefined && deps !== null) {
    report(y(stepOrigin.depsKey), `dependencies must be a list of step names; got ${describe(deps)}`);
  }

  // retry
  const retry = raw.retry;
  if (isDict(retry)) {
    if (Object.hasOwn(retry, 'max_attempts') && Object.hasOwn(retry, 'limit')) {
      report(
        y('retry', 'limit'),
        "'limit' is the legacy spelling of 'max_attempts'; use only 'max_attempts'",
      );
    }
    for (const [key, value] of Object.entries(retry)) {
      const field = RETRY_KEYS.get(key);
      if (field === undefined) {
        report(y('retry', key), `unknown retry key '${key}'`);
        continue;
      }
      if (value === undefined || value === null) continue;
      if (field === 'backoff') {
        if (value !== 'exponential') {
          report(y('retry', key), `backoff ${describe(value)} is not supported; only 'exponential' is`);
        }
        continue;
      }
      if (key === 'limit' && Object.hasOwn(retry, 'max_attempts')) continue;
      if (field === 'retryable') {
        if (typeof value === 'boolean') step.retry.retryable = value;
        else {
          report(
            y('retry', key),
            `retryable must be true or false; got ${describe(value)}`,
            c('retry', field),
          );
        }
        continue;
      }
      stepOrigin.retryKeys[field] = key;
      if (typeof value === 'number') step.retry[field] = value;
      else report(y('retry', key), `${key} must be a number; got ${describe(value)}`, c('retry', field));
    }
  } else if (retry !== undefined && retry !== null) {
    report(y('retry'), `retry must be a mapping; got ${describe(retry)}`, c('retry'));
  }

  // timeout_seconds → timeoutMs
  const timeout = raw.timeout_seconds;
  if (typeof timeout === 'number') {
    step.timeoutMs = Math.round(timeout * 1000);
  } else if (timeout !== undefined && timeout !== null) {
    report(
      y('timeout_seconds'),
      `timeout_seconds must be a number; got ${describe(timeout)}`,
      c('timeoutMs'),
    );
  }

  // publishes_events: [{ name, description?, condition?, delivery_mode?, publisher?, schema? }]
  const events = raw.publishes_events;
  if (Array.isArray(events)) {
    const declared: EventDeclaration[] = [];
    events.forEach((e: unknown, k) => {
      if (!isDict(e)) {
        report(
          y('publishes_events', k),
          `an event declaration must be a mapping with a name; got ${describe(e)}`,
        );
        return;
      }
      for (const key of Object.keys(e)) {
        if (!EVENT_KEYS.has(key)) report(y('publishes_events', k, key), `unknown event key '${key}'`);
      }
      if (Object.hasOwn(e, 'delivery') && Object.hasOwn(e, 'delivery_mode')) {
        report(y('publishes_events', k), "use either 'delivery_mode' or its alias 'delivery', not both");
      }
      const declaration: EventDeclaration = {
        name: e.name as string,
        condition: (e.condition ?? 'success') as EventCondition,
        delivery: (e.delivery_mode ?? e.delivery ?? 'durable') as EventDeliveryMode,
      };
      if (typeof e.description === 'string') declaration.description = e.description;
      if (e.publisher !== undefined && e.publisher !== null) declaration.publisher = e.publisher as string;
      stepOrigin.events.push([k, Object.hasOwn(e, 'delivery') ? 'delivery' : 'delivery_mode']);
      declared.push(declaration);
    });
    if (declared.length > 0) step.publishesEvents = declared;
  } else if (events !== undefined && events !== null) {
    report(
      y('publishes_events'),
      `publishes_events must be a list of event declarations; got ${describe(events)}`,
    );
  }

  return { step, stepOrigin };
}

/** Maps a path over the normalized template back to the keys the YAML file used. */
function toYamlPath(path: readonly PathSegment[], origin: Origin): PathSegment[] {
  const [head, ...rest] = path;
  if (head === 'namespace') return [origin.namespaceKey, ...rest];
  if (head !== 'steps' || typeof rest[0] !== 'number') return [...path];
  const step = origin.steps[rest[0]];
  if (step === undefined) return ['steps'];
  const [field, ...tail] = rest.slice(1);
  const base: PathSegment[] = ['steps', step.yamlIndex];
  switch (field) {
    case undefined:
      return base;
    case 'handler':
      return step.handlerShorthand ? [...base, 'handler'] : [...base, 'handler', 'callable'];
    case 'inputs':
      return [...base, 'handler', 'initialization', ...tail];
    case 'type':
      return [...base, step.typeKey];
    case 'timeoutMs':
      return [...base, 'timeout_seconds'];
    case 'batch': {
      const [f] = tail;
      const key =
        f === 'failureStrategy' ? 'failure_strategy' : f === 'batchSize' ? 'batch_size' : 'max_batches';
      return f === undefined ? [...base, 'batch_config'] : [...base, 'batch_config', key];
    }
    case 'publishesEvents': {
      const [k, key, ...more] = tail;
      const origin = typeof k === 'number' ? step.events[k] : undefined;
      if (!origin) return [...base, 'publishes_events', ...tail];
      return [...base, 'publishes_events', origin[0], key === 'delivery' ? origin[1] : key, ...more].filter(
        (p) => p !== undefined,
      );
    }
    case 'dependsOn': {
      const [j] = tail;
      return typeof j === 'number' ? [...base, step.depsKey, step.depIndex[j] ?? j] : [...base, step.depsKey];
    }
    case 'retry': {
      const [f] = tail;
      if (typeof f !== 'string' || !Object.hasOwn(RETRY_YAML_KEY, f)) return [...base, 'retry'];
      const k = f as keyof RetryPolicy;
      return [...base, 'retry', step.retryKeys[k] ?? RETRY_YAML_KEY[k]];
    }
    default:
      return [...base, field, ...tail];
  }
}

/**
 * The 1-based line of the deepest node on `path` that exists in the document: the key's line for a mapping
 * entry, the item's line for a list entry. A path into a default the file does not contain falls back to the
 * nearest enclosing key.
 */
function lineOf(doc: Document, lc: LineCounter, path: readonly PathSegment[]): number | undefined {
  let node: unknown = doc.contents;
  let line: number | undefined;
  const lineAt = (n: unknown): number | undefined => {
    const range = (n as Node | null)?.range;
    return range ? lc.linePos(range[0]).line : undefined;
  };
  for (const seg of path) {
    if (isAlias(node)) node = node.resolve(doc);
    if (isMap(node)) {
      const pair = node.items.find((p) => (isScalar(p.key) ? p.key.value : p.key) === seg);
      if (!pair) break;
      line = lineAt(pair.key) ?? line;
      node = pair.value;
    } else if (isSeq(node) && typeof seg === 'number') {
      const item: unknown = node.items[seg];
      if (item === undefined) break;
      line = lineAt(item) ?? line;
      node = item;
    } else {
      break;
    }
  }
  return line;
}
