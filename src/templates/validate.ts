/**
 * Structural validation of a normalized {@link TaskTemplate}. Both the YAML parser and the DSL end here, so a
 * template is held to the same rules whatever its source. Every problem is collected; nothing stops at the first.
 * This module checks the template's own fields and runs the rest: `validate-step.ts` checks each step,
 * `validate-graph.ts` the dependency graph, `rules.ts` holds the name patterns and limits.
 */
import { TemplateValidationError, type ValidationIssue } from '../errors.js';
import { formatPath, type PathSegment } from './path.js';
import {
  NAMESPACE_MAX_LENGTH,
  NAMESPACE_PATTERN,
  SEMVER_PATTERN,
  TEMPLATE_NAME_MAX_LENGTH,
  TEMPLATE_NAME_PATTERN,
  VERSION_MAX_LENGTH,
  type AddIssue,
  type RawIssue,
  type ValidateOptions,
} from './rules.js';
import { templateKey, type TaskTemplate } from './types.js';
import { checkGraph, dependencyGraph } from './validate-graph.js';
import { checkStep } from './validate-step.js';

export {
  EVENT_NAME_MAX_LENGTH,
  EVENT_NAME_PATTERN,
  HANDLER_MAX_LENGTH,
  NAMESPACE_MAX_LENGTH,
  NAMESPACE_PATTERN,
  SEMVER_PATTERN,
  STEP_NAME_MAX_LENGTH,
  STEP_NAME_PATTERN,
  TEMPLATE_NAME_MAX_LENGTH,
  TEMPLATE_NAME_PATTERN,
  VERSION_MAX_LENGTH,
  type RawIssue,
  type ValidateOptions,
} from './rules.js';
export { decisionDepths, findCycles } from './validate-graph.js';

/**
 * Checks `t` and returns every problem found, with paths over the normalized shape
 * (e.g. `steps[1].dependsOn[0]`). An empty array means the template is valid.
 */
export function validateTemplate(t: TaskTemplate, opts?: ValidateOptions): ValidationIssue[] {
  return collectIssues(t, opts).map((i) => {
    const issue: ValidationIssue = { path: formatPath(i.path), message: i.message };
    if (opts?.source !== undefined) issue.source = opts.source;
    return issue;
  });
}

/** Like {@link validateTemplate} but throws one {@link TemplateValidationError} listing every issue. */
export function assertValidTemplate(t: TaskTemplate, opts?: ValidateOptions): void {
  const issues = validateTemplate(t, opts);
  if (issues.length > 0) {
    throw new TemplateValidationError(invalidSummary(t, opts?.source, issues.length), issues);
  }
}

/** The headline of a {@link TemplateValidationError}. */
export function invalidSummary(
  t: Partial<Pick<TaskTemplate, 'namespace' | 'name' | 'version'>> | undefined,
  source: string | undefined,
  count: number,
): string {
  const what =
    t?.namespace && t.name && t.version
      ? `template ${templateKey({ namespace: t.namespace, name: t.name, version: t.version })}`
      : 'template';
  const where = source ? ` in ${source}` : '';
  return `${what}${where} is invalid (${count} issue${count === 1 ? '' : 's'})`;
}

/** Validation with segment paths, so the YAML parser can map them back to the keys used in the file. */
export function collectIssues(t: TaskTemplate, opts?: ValidateOptions): RawIssue[] {
  const issues: RawIssue[] = [];
  const add = (path: PathSegment[], message: string): void => {
    issues.push({ path, message });
  };
  const addGraph = (path: PathSegment[], message: string): void => {
    issues.push({ path, message, graph: true });
  };

  checkTemplateFields(t, add);
  if (!Array.isArray(t.steps) || t.steps.length === 0) {
    add(['steps'], 'a template needs at least one step');
    return issues;
  }

  const indexByName = new Map<string, number>();
  t.steps.forEach((step, i) => checkStep(step, i, { add, addGraph, indexByName, opts }));
  checkGraph(t, dependencyGraph(t, indexByName, addGraph), add, addGraph, opts?.maxDecisionDepth);
  return issues;
}

/** The template's own fields: namespace, name, version, description. */
function checkTemplateFields(t: TaskTemplate, add: AddIssue): void {
  if (typeof t.namespace !== 'string' || t.namespace === '') {
    add(['namespace'], 'namespace is required');
  } else if (!NAMESPACE_PATTERN.test(t.namespace) || t.namespace.length > NAMESPACE_MAX_LENGTH) {
    add(
      ['namespace'],
      `namespace '${t.namespace}' is invalid: use letters, digits and underscores, not starting with a digit, ` +
        `at most ${NAMESPACE_MAX_LENGTH} characters`,
    );
  }

  if (typeof t.name !== 'string' || t.name === '') {
    add(['name'], 'name is required');
  } else if (!TEMPLATE_NAME_PATTERN.test(t.name) || t.name.length > TEMPLATE_NAME_MAX_LENGTH) {
    add(
      ['name'],
      `name '${t.name}' is invalid: use letters, digits, '_', '.' and '-', not starting with a digit, '.' or '-', ` +
        `at most ${TEMPLATE_NAME_MAX_LENGTH} characters`,
    );
  }

  if (typeof t.version !== 'string' || t.version === '') {
    add(['version'], 'version is required');
  } else if (!SEMVER_PATTERN.test(t.version) || t.version.length > VERSION_MAX_LENGTH) {
    add(
      ['version'],
      `version '${t.version}' is not a semantic version: expected MAJOR.MINOR.PATCH such as '1.0.0' ` +
        `(optionally with -prerelease or +build), at most ${VERSION_MAX_LENGTH} characters`,
    );
  }

  if (t.description !== undefined && typeof t.description !== 'string') {
    add(['description'], 'description must be a string');
  }
}

/**
 * Step names in an order where every step comes after all of its dependencies; among steps that are free to go
 * next, the one declared first wins, so the order is stable.
 * @throws TemplateValidationError when a dependency is unknown or the steps form a cycle.
 */
export function topologicalOrder(t: TaskTemplate): string[] {
  const graphIssues = collectIssues(t).filter((i) => i.graph === true);
  if (graphIssues.length > 0) {
    const issues = graphIssues.map((i) => ({ path: formatPath(i.path), message: i.message }));
    throw new TemplateValidationError(invalidSummary(t, undefined, issues.length), issues);
  }
  const index = new Map(t.steps.map((s, i) => [s.name, i]));
  const remaining = t.steps.map((s) => s.dependsOn.length);
  const dependents: number[][] = t.steps.map(() => []);
  t.steps.forEach((s, i) => {
    for (const d of s.dependsOn) dependents[index.get(d)!]!.push(i);
  });
  // Kept sorted ascending; templates are small, so insertion into an array is cheap enough.
  const ready: number[] = [];
  const insert = (i: number): void => {
    let lo = 0;
    let hi = ready.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (ready[mid]! < i) lo = mid + 1;
      else hi = mid;
    }
    ready.splice(lo, 0, i);
  };
  remaining.forEach((n, i) => {
    if (n === 0) ready.push(i);
  });
  const order: string[] = [];
  while (ready.length > 0) {
    const i = ready.shift()!;
    order.push(t.steps[i]!.name);
    for (const d of dependents[i]!) {
      remaining[d] = remaining[d]! - 1;
      if (remaining[d] === 0) insert(d);
    }
  }
  return order;
}
