/**
 * Parses a YAML task template (spec §5.1) into the normalized {@link TaskTemplate}, reporting every problem
 * with the path of the offending key as written in the file and its line. This module reads the document and
 * the template's own fields; `yaml-step.ts` reads each step, `yaml-keys.ts` holds the accepted keys and
 * `yaml-origin.ts` maps issues back to file positions.
 *
 * Accepted on top of the reference format:
 * - top-level `namespace` as an alias of `namespace_name` (the reference's docs use it, its code does not);
 * - `handler: "Name"` as shorthand for `handler: { callable: "Name" }`;
 * - `retry.limit` as the legacy spelling of `retry.max_attempts` (the reference ignores it, silently using 3);
 * - `retry.backoff_multiplier` and `retry.jitter`, which the reference does not have.
 *
 * Step-level `publishes_events` (the events a step publishes) and `batch_config` (a batch worker's failure
 * strategy, batch size and batch limit; its other keys are advisory) are parsed and acted on.
 *
 * Accepted and ignored, because Tasker does not act on them (yet): top-level `metadata`, `lifecycle`,
 * `input_schema`, `environments`, `system_dependencies`, `domain_events`, `loaded_from`;
 * step-level `system_dependency`, `result_schema`; `handler.resolver`; `handler.method: call` and
 * `retry.backoff: exponential` (the only values that mean what Tasker does).
 *
 * Any other key is reported as unknown, so that a misspelt `depends_on` cannot silently drop a dependency.
 */
import { LineCounter, parseDocument } from 'yaml';
import { TemplateValidationError, type ValidationIssue } from '../errors.js';
import { formatPath, isPathWithin, type PathSegment } from './path.js';
import { resolveRetryDefaults, type RetryDefaults } from './retry.js';
import { IDENTITY_STRATEGIES, type IdentityStrategy, type TaskTemplate } from './types.js';
import { collectIssues, invalidSummary } from './validate.js';
import {
  describe,
  IGNORED_TOP_LEVEL_KEYS,
  isDict,
  TOP_LEVEL_KEYS,
  type ParseIssue,
  type Report,
  type RequireString,
} from './yaml-keys.js';
import { lineOf, toYamlPath, type Origin } from './yaml-origin.js';
import { normalizeStep } from './yaml-step.js';

export { IGNORED_STEP_KEYS, IGNORED_TOP_LEVEL_KEYS } from './yaml-keys.js';

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
  const report: Report = (yamlPath, message, canonical) => {
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
  const requireString: RequireString = (value, yamlPath, canonical, label) => {
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
