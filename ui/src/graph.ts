/** Reachability in a step graph: what a re-run from a step runs again. */

/** A step as far as dependencies go. */
export interface DependencyStep {
  name: string;
  depends_on: readonly string[];
}

/**
 * The names of the steps below `name`: those that depend on it, directly or through other steps. A re-run from
 * `name` runs it and these again; every other step keeps its result.
 */
export function descendantsOf(steps: readonly DependencyStep[], name: string): Set<string> {
  const dependents = new Map<string, string[]>();
  for (const s of steps) {
    for (const dep of s.depends_on) dependents.set(dep, [...(dependents.get(dep) ?? []), s.name]);
  }
  const found = new Set<string>();
  const queue = [...(dependents.get(name) ?? [])];
  while (queue.length > 0) {
    const next = queue.shift() as string;
    if (found.has(next) || next === name) continue;
    found.add(next);
    queue.push(...(dependents.get(next) ?? []));
  }
  return found;
}
