/**
 * Structural validation of a normalized {@link TaskTemplate}. Both the YAML parser and the DSL end here, so a
 * template is held to the same rules whatever its source. Every problem is collected; nothing stops at the first.
 */
import { TemplateValidationError, type ValidationIssue } from '../errors.js';
import { formatPath, type PathSegment } from './path.js';
import { RETRY_LIMITS } from './retry.js';
import {
  BATCH_FAILURE_STRATEGIES,
  STEP_TYPES,
  type BatchConfig,
  EVENT_CONDITIONS,
  EVENT_DELIVERY_MODES,
  StepType,
  templateKey,
  type EventDeclaration,
  type RetryPolicy,
  type TaskTemplate,
} from './types.js';

/** Namespaces become queue names, and the queue table name must stay under PostgreSQL's 63-byte limit. */
export const NAMESPACE_PATTERN = /^[A-Za-z_][A-Za-z0-9_]*$/;
export const NAMESPACE_MAX_LENGTH = 29;
export const TEMPLATE_NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_.-]*$/;
export const TEMPLATE_NAME_MAX_LENGTH = 64;
export const STEP_NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_]*$/;
export const STEP_NAME_MAX_LENGTH = 128;
export const VERSION_MAX_LENGTH = 50;
export const HANDLER_MAX_LENGTH = 500;
/** Domain event names: dotted lowercase words, e.g. `payment.processed`. */
export const EVENT_NAME_PATTERN = /^[a-z][a-z0-9_]*(\.[a-z0-9_]+)*$/;
export const EVENT_NAME_MAX_LENGTH = 200;
/** Strict semantic versioning 2.0.0: `MAJOR.MINOR.PATCH`, optional `-prerelease` and `+build`, no leading zeros. */
export const SEMVER_PATTERN =
  /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-(?:0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*)(?:\.(?:0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*))*)?(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?$/;

/** Options of {@link validateTemplate}. */
export interface ValidateOptions {
  /** When given, every step's handler must be in this set. */
  handlerNames?: ReadonlySet<string>;
  /** Recorded on every issue (a file name, or any label). */
  source?: string;
  /** When given, decision steps may nest at most this deep (`orchestration.decision_points.max_depth`). */
  maxDecisionDepth?: number;
}

/** An issue whose path is still a segment list over the normalized template (internal form). */
export interface RawIssue {
  path: PathSegment[];
  message: string;
  /** Set on issues about the dependency graph (duplicate names, bad dependencies, cycles). */
  graph?: true;
}

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

  if (!Array.isArray(t.steps) || t.steps.length === 0) {
    add(['steps'], 'a template needs at least one step');
    return issues;
  }

  // First index of each step name; later duplicates are reported and left out of the graph checks.
  const indexByName = new Map<string, number>();
  t.steps.forEach((step, i) => {
    const at = (...rest: PathSegment[]): PathSegment[] => ['steps', i, ...rest];
    const name = step.name;
    if (typeof name !== 'string' || name === '') {
      add(at('name'), 'step name is required');
    } else if (!STEP_NAME_PATTERN.test(name) || name.length > STEP_NAME_MAX_LENGTH) {
      add(
        at('name'),
        `step name '${name}' is invalid: use letters, digits and underscores, not starting with a digit, ` +
          `at most ${STEP_NAME_MAX_LENGTH} characters`,
      );
    }
    if (typeof name === 'string' && name !== '') {
      const first = indexByName.get(name);
      if (first !== undefined) {
        addGraph(at('name'), `duplicate step name '${name}' (first defined at steps[${first}])`);
      } else indexByName.set(name, i);
    }

    if (step.description !== undefined && typeof step.description !== 'string') {
      add(at('description'), 'description must be a string');
    }

    if (typeof step.handler !== 'string' || step.handler.trim() === '') {
      add(at('handler'), `step '${name}' needs a handler name`);
    } else if (step.handler.length > HANDLER_MAX_LENGTH) {
      add(at('handler'), `handler name is longer than ${HANDLER_MAX_LENGTH} characters`);
    } else if (opts?.handlerNames && !opts.handlerNames.has(step.handler)) {
      add(at('handler'), `no handler is registered under '${step.handler}' (used by step '${name}')`);
    }

    if (!STEP_TYPES.includes(step.type)) {
      add(at('type'), `unknown step type '${String(step.type)}'; expected one of ${STEP_TYPES.join(', ')}`);
    } else if (step.type === StepType.BatchWorker) {
      checkBatch(step.batch, at('batch'), add);
    } else if (step.batch !== undefined) {
      add(at('batch'), `only batch_worker steps take batch settings; '${name}' is a ${step.type} step`);
    }

    checkRetry(step.retry, at('retry'), add);

    if (step.timeoutMs !== undefined) {
      if (
        !Number.isInteger(step.timeoutMs) ||
        step.timeoutMs < 1 ||
        step.timeoutMs > RETRY_LIMITS.maxDelayMs
      ) {
        add(
          at('timeoutMs'),
          `timeout must be a positive whole number of ms, at most ${RETRY_LIMITS.maxDelayMs} ms (about 24.8 days); got ${String(step.timeoutMs)} ms`,
        );
      }
    }

    if (step.publishesEvents !== undefined) checkEvents(step.publishesEvents, at('publishesEvents'), add);

    if (!isPlainObject(step.inputs)) {
      add(at('inputs'), 'inputs must be a mapping of names to values');
    } else {
      const bad = findNonJson(step.inputs, [], new Set());
      if (bad) add(at('inputs', ...bad.path), `inputs must be plain JSON values: ${bad.why}`);
    }
  });

  // Dependencies: each must name another, existing step, at most once.
  const graph: number[][] = t.steps.map(() => []);
  const edgeIndex: Map<number, number>[] = t.steps.map(() => new Map<number, number>());
  t.steps.forEach((step, i) => {
    if (!Array.isArray(step.dependsOn)) {
      addGraph(['steps', i, 'dependsOn'], 'dependencies must be a list of step names');
      return;
    }
    const seen = new Set<string>();
    step.dependsOn.forEach((dep, j) => {
      const at: PathSegment[] = ['steps', i, 'dependsOn', j];
      if (typeof dep !== 'string') {
        addGraph(at, 'a dependency must be a step name');
        return;
      }
      if (seen.has(dep)) {
        addGraph(at, `step '${step.name}' lists dependency '${dep}' more than once`);
        return;
      }
      seen.add(dep);
      if (dep === step.name) {
        addGraph(at, `step '${step.name}' depends on itself`);
        return;
      }
      const target = indexByName.get(dep);
      if (target === undefined) {
        addGraph(at, `step '${step.name}' depends on unknown step '${dep}'`);
        return;
      }
      // Only the first definition of a duplicated name takes part in the graph (the duplicate is reported).
      if (indexByName.get(step.name) === i && !edgeIndex[i]!.has(target)) {
        graph[i]!.push(target);
        edgeIndex[i]!.set(target, j);
      }
    });
  });

  const cycles = findCycles(graph);
  for (const cycle of cycles) {
    const names = [...cycle, cycle[0]!].map((k) => t.steps[k]!.name);
    const from = cycle[0]!;
    const to = cycle.length > 1 ? cycle[1]! : from;
    addGraph(
      ['steps', from, 'dependsOn', edgeIndex[from]!.get(to) ?? 0],
      `dependency cycle: ${names.join(' -> ')} (each step depends on the next)`,
    );
  }
  if (cycles.length === 0) checkDynamicSteps(t, graph, add, opts?.maxDecisionDepth);

  return issues;
}

/**
 * Rules of the dynamic step types, over the dependency graph (`graph[i]` = indexes of step i's parents):
 * decisions have branches; convergence steps have parents; each batchable step has exactly one batch_worker
 * child, whose only parent it is, and only convergence steps depend on a batch worker; decision nesting stays
 * within the limit.
 */
function checkDynamicSteps(
  t: TaskTemplate,
  graph: readonly (readonly number[])[],
  add: (path: PathSegment[], message: string) => void,
  maxDecisionDepth: number | undefined,
): void {
  const children: number[][] = t.steps.map(() => []);
  graph.forEach((parents, i) => parents.forEach((p) => children[p]!.push(i)));
  const type = (i: number): StepType => t.steps[i]!.type;
  t.steps.forEach((step, i) => {
    const at: PathSegment[] = ['steps', i];
    const kids = children[i]!;
    switch (step.type) {
      case StepType.Decision:
        if (kids.length === 0) {
          add(
            [...at, 'type'],
            `decision step '${step.name}' needs steps that depend on it: they are its branches`,
          );
        }
        break;
      case StepType.DeferredConvergence:
        if (graph[i]!.length === 0) {
          add(
            [...at, 'dependsOn'],
            `deferred convergence step '${step.name}' must list the steps it may wait for in its dependencies`,
          );
        }
        break;
      case StepType.Batchable: {
        const workers = kids.filter((k) => type(k) === StepType.BatchWorker);
        if (workers.length !== 1) {
          add(
            [...at, 'type'],
            `batchable step '${step.name}' needs exactly one batch_worker step depending on it; found ${workers.length}`,
          );
        }
        break;
      }
      case StepType.BatchWorker: {
        const parents = graph[i]!;
        if (parents.length !== 1 || type(parents[0]!) !== StepType.Batchable) {
          add(
            [...at, 'dependsOn'],
            `batch_worker step '${step.name}' must depend on exactly one step, of type batchable`,
          );
        }
        const converging = kids.filter((k) => type(k) === StepType.DeferredConvergence);
        for (const k of kids) {
          if (type(k) !== StepType.DeferredConvergence) {
            add(
              ['steps', k, 'dependsOn'],
              `step '${t.steps[k]!.name}' depends on batch_worker '${step.name}': only deferred_convergence ` +
                'steps can wait for batch workers (there is one instance per batch)',
            );
          }
        }
        if (converging.length !== 1) {
          add(
            [...at, 'type'],
            `batch_worker step '${step.name}' needs exactly one deferred_convergence step depending on it; ` +
              `found ${converging.length}`,
          );
        }
        break;
      }
      default:
        break;
    }
  });
  if (maxDecisionDepth !== undefined) {
    const depth = decisionDepths(t, graph);
    depth.forEach((d, i) => {
      if (d > maxDecisionDepth && t.steps[i]!.type === StepType.Decision) {
        add(
          ['steps', i, 'type'],
          `decision step '${t.steps[i]!.name}' is nested ${d} decisions deep; the limit is ${maxDecisionDepth} ` +
            '(orchestration.decision_points.max_depth)',
        );
      }
    });
  }
}

/**
 * For each step, how many decision steps are on the deepest path from a root to it, itself included (0 for a
 * step with no decision above it). A template's nesting depth is the maximum.
 */
export function decisionDepths(t: TaskTemplate, graph?: readonly (readonly number[])[]): number[] {
  const index = new Map(t.steps.map((s, i) => [s.name, i]));
  const parents =
    graph ?? t.steps.map((s) => s.dependsOn.map((d) => index.get(d)!).filter((p) => p !== undefined));
  const memo: (number | undefined)[] = [];
  const depth = (i: number): number => {
    const known = memo[i];
    if (known !== undefined) return known;
    memo[i] = 0; // guards against cycles, which are reported elsewhere
    const above = Math.max(0, ...parents[i]!.map(depth));
    const d = above + (t.steps[i]!.type === StepType.Decision ? 1 : 0);
    memo[i] = d;
    return d;
  };
  return t.steps.map((_, i) => depth(i));
}

function checkBatch(
  batch: BatchConfig | undefined,
  at: PathSegment[],
  add: (path: PathSegment[], message: string) => void,
): void {
  if (batch === undefined) {
    add(at, 'a batch_worker step needs batch settings');
    return;
  }
  if (!(BATCH_FAILURE_STRATEGIES as readonly string[]).includes(batch.failureStrategy)) {
    add(
      [...at, 'failureStrategy'],
      `failure strategy must be one of ${BATCH_FAILURE_STRATEGIES.join(', ')} (continue_on_failure = continue); ` +
        `got ${JSON.stringify(batch.failureStrategy)}`,
    );
  }
  if (!Number.isInteger(batch.batchSize) || batch.batchSize < 1 || batch.batchSize > 1_000_000) {
    add(
      [...at, 'batchSize'],
      `batch size must be a whole number from 1 to 1000000; got ${String(batch.batchSize)}`,
    );
  }
  if (!Number.isInteger(batch.maxBatches) || batch.maxBatches < 1 || batch.maxBatches > 10_000) {
    add(
      [...at, 'maxBatches'],
      `max batches must be a whole number from 1 to 10000; got ${String(batch.maxBatches)}`,
    );
  }
}

function checkRetry(
  retry: RetryPolicy | undefined,
  at: PathSegment[],
  add: (path: PathSegment[], message: string) => void,
): void {
  if (typeof retry !== 'object' || retry === null) {
    add(at, 'retry policy is required');
    return;
  }
  if (typeof retry.retryable !== 'boolean') add([...at, 'retryable'], 'retryable must be true or false');
  const { minAttempts, maxAttempts, maxDelayMs } = RETRY_LIMITS;
  if (
    !Number.isInteger(retry.maxAttempts) ||
    retry.maxAttempts < minAttempts ||
    retry.maxAttempts > maxAttempts
  ) {
    add(
      [...at, 'maxAttempts'],
      `max attempts must be a whole number from ${minAttempts} to ${maxAttempts}; got ${String(retry.maxAttempts)}`,
    );
  }
  const delayOk = (v: number): boolean => Number.isInteger(v) && v >= 0 && v <= maxDelayMs;
  if (!delayOk(retry.backoffBaseMs)) {
    add(
      [...at, 'backoffBaseMs'],
      `base backoff must be a whole number of ms from 0 to ${maxDelayMs}; got ${String(retry.backoffBaseMs)}`,
    );
  }
  if (!delayOk(retry.maxBackoffMs)) {
    add(
      [...at, 'maxBackoffMs'],
      `max backoff must be a whole number of ms from 0 to ${maxDelayMs}; got ${String(retry.maxBackoffMs)}`,
    );
  } else if (delayOk(retry.backoffBaseMs) && retry.maxBackoffMs < retry.backoffBaseMs) {
    add(
      [...at, 'maxBackoffMs'],
      `max backoff (${retry.maxBackoffMs} ms) is smaller than the base backoff (${retry.backoffBaseMs} ms)`,
    );
  }
  if (
    typeof retry.backoffMultiplier !== 'number' ||
    !Number.isFinite(retry.backoffMultiplier) ||
    retry.backoffMultiplier < 1
  ) {
    add(
      [...at, 'backoffMultiplier'],
      `backoff multiplier must be a number >= 1; got ${String(retry.backoffMultiplier)}`,
    );
  }
  if (
    typeof retry.jitter !== 'number' ||
    !Number.isFinite(retry.jitter) ||
    retry.jitter < 0 ||
    retry.jitter > 1
  ) {
    add([...at, 'jitter'], `jitter must be a fraction from 0 to 1; got ${String(retry.jitter)}`);
  }
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const proto: unknown = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

/** Finds the first value that would not survive a JSON round trip into the database unchanged. */
function findNonJson(
  v: unknown,
  path: PathSegment[],
  ancestors: Set<object>,
): { path: PathSegment[]; why: string } | undefined {
  switch (typeof v) {
    case 'string':
    case 'boolean':
      return undefined;
    case 'number':
      return Number.isFinite(v) ? undefined : { path, why: `${String(v)} is not a JSON number` };
    case 'object': {
      if (v === null) return undefined;
      if (ancestors.has(v)) return { path, why: 'the value contains itself' };
      ancestors.add(v);
      try {
        if (Array.isArray(v)) {
          for (let i = 0; i < v.length; i++) {
            const item: unknown = v[i];
            if (item === undefined) return { path: [...path, i], why: 'undefined is not a JSON value' };
            const bad = findNonJson(item, [...path, i], ancestors);
            if (bad) return bad;
          }
          return undefined;
        }
        if (!isPlainObject(v)) {
          return { path, why: `${v.constructor?.name ?? 'object'} is not a plain object` };
        }
        for (const [k, item] of Object.entries(v)) {
          // An undefined property is simply dropped by JSON, which is what a caller writing `{ a: maybe }` wants.
          if (item === undefined) continue;
          const bad = findNonJson(item, [...path, k], ancestors);
          if (bad) return bad;
        }
        return undefined;
      } finally {
        ancestors.delete(v);
      }
    }
    default:
      return { path, why: `a ${typeof v} is not a JSON value` };
  }
}

/**
 * Elementary cycles found by a depth-first search over `graph` (edge i -> j: step i depends on step j), one per
 * back edge, each rotated to start at its lowest index and reported once. Iterative, so a long chain of steps
 * cannot overflow the call stack.
 */
/** Declared domain events: valid names, known condition and delivery, each (name, condition) once. */
function checkEvents(
  events: readonly EventDeclaration[],
  path: PathSegment[],
  add: (path: PathSegment[], message: string) => void,
): void {
  if (!Array.isArray(events)) {
    add(path, 'publishes_events must be a list of event declarations');
    return;
  }
  const seen = new Set<string>();
  events.forEach((e: EventDeclaration, k: number) => {
    const at = (...rest: PathSegment[]): PathSegment[] => [...path, k, ...rest];
    if (
      typeof e.name !== 'string' ||
      !EVENT_NAME_PATTERN.test(e.name) ||
      e.name.length > EVENT_NAME_MAX_LENGTH
    ) {
      add(
        at('name'),
        `event name ${JSON.stringify(e.name)} is invalid: use dotted lowercase words such as 'payment.processed' ` +
          `(letters, digits, '_'), at most ${EVENT_NAME_MAX_LENGTH} characters`,
      );
    }
    if (!(EVENT_CONDITIONS as readonly string[]).includes(e.condition)) {
      add(
        at('condition'),
        `event condition must be one of ${EVENT_CONDITIONS.join(', ')}; got ${JSON.stringify(e.condition)}`,
      );
    }
    if (!(EVENT_DELIVERY_MODES as readonly string[]).includes(e.delivery)) {
      add(
        at('delivery'),
        `event delivery must be one of ${EVENT_DELIVERY_MODES.join(', ')}; got ${JSON.stringify(e.delivery)}`,
      );
    }
    if (e.publisher !== undefined && (typeof e.publisher !== 'string' || e.publisher.trim() === '')) {
      add(at('publisher'), 'publisher must be the name of a registered event publisher');
    }
    const key = `${String(e.name)}|${String(e.condition)}`;
    if (seen.has(key)) {
      add(at('name'), `event '${String(e.name)}' is declared twice for condition '${String(e.condition)}'`);
    }
    seen.add(key);
  });
}

export function findCycles(graph: readonly (readonly number[])[]): number[][] {
  const WHITE = 0;
  const GRAY = 1;
  const BLACK = 2;
  const color = new Array<number>(graph.length).fill(WHITE);
  const cycles: number[][] = [];
  const seen = new Set<string>();

  for (let root = 0; root < graph.length; root++) {
    if (color[root] !== WHITE) continue;
    const path: number[] = [root];
    const nextEdge: number[] = [0];
    color[root] = GRAY;
    while (path.length > 0) {
      const top = path.length - 1;
      const node = path[top]!;
      const edges = graph[node]!;
      const e = nextEdge[top]!;
      if (e >= edges.length) {
        color[node] = BLACK;
        path.pop();
        nextEdge.pop();
        continue;
      }
      nextEdge[top] = e + 1;
      const next = edges[e]!;
      if (color[next] === WHITE) {
        color[next] = GRAY;
        path.push(next);
        nextEdge.push(0);
      } else if (color[next] === GRAY) {
        const cycle = path.slice(path.indexOf(next));
        const start = cycle.indexOf(Math.min(...cycle));
        const rotated = [...cycle.slice(start), ...cycle.slice(0, start)];
        const k = rotated.join(',');
        if (!seen.has(k)) {
          seen.add(k);
          cycles.push(rotated);
        }
      }
    }
  }
  return cycles;
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
