/**
 * The rules over the dependency graph: dependencies name other, existing steps, at most once; no cycles (each
 * reported with its path); and the wiring the dynamic step types need (decision branches, convergence parents,
 * batchable → batch_worker → deferred_convergence, decision nesting depth).
 */
import type { PathSegment } from './path.js';
import type { AddIssue } from './rules.js';
import { StepType, type TaskTemplate } from './types.js';

/** The dependency graph: `graph[i]` = indexes of step i's parents; `edgeIndex[i]` maps a parent to its list index. */
export interface DependencyGraph {
  graph: number[][];
  edgeIndex: Map<number, number>[];
}

/**
 * Builds the dependency graph, reporting each dependency that is not a name, repeated, the step itself or
 * unknown. Only the first definition of a duplicated name takes part.
 */
export function dependencyGraph(
  t: TaskTemplate,
  indexByName: ReadonlyMap<string, number>,
  addGraph: AddIssue,
): DependencyGraph {
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

  return { graph, edgeIndex };
}

/** Reports each dependency cycle at its first edge; then, when there is none, the dynamic step rules. */
export function checkGraph(
  t: TaskTemplate,
  { graph, edgeIndex }: DependencyGraph,
  add: AddIssue,
  addGraph: AddIssue,
  maxDecisionDepth: number | undefined,
): void {
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
  if (cycles.length === 0) checkDynamicSteps(t, graph, add, maxDecisionDepth);
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
  add: AddIssue,
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

/**
 * Elementary cycles found by a depth-first search over `graph` (edge i -> j: step i depends on step j), one per
 * back edge, each rotated to start at its lowest index and reported once. Iterative, so a long chain of steps
 * cannot overflow the call stack.
 */
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
