/**
 * The workloads of the side-by-side benchmark, as plain DAGs every system runs the same way: each step a
 * trivial handler, a step runs once all its parents finished.
 */
export interface Shape {
  /** W1..W4 label. */
  id: string;
  name: string;
  /** Steps in topological order with their parents. */
  steps: { name: string; parents: string[] }[];
}

function linear(n: number): Shape['steps'] {
  return Array.from({ length: n }, (_, i) => ({ name: `s${i + 1}`, parents: i === 0 ? [] : [`s${i}`] }));
}

/** 1 → `width` → 1. */
function fanOut(width: number): Shape['steps'] {
  const middle = Array.from({ length: width }, (_, i) => ({ name: `m${i + 1}`, parents: ['root'] }));
  return [{ name: 'root', parents: [] }, ...middle, { name: 'join', parents: middle.map((m) => m.name) }];
}

export const LINEAR4: Shape = { id: 'W1', name: 'linear4', steps: linear(4) };
export const DIAMOND4: Shape = {
  id: 'W2',
  name: 'diamond4',
  steps: [
    { name: 'top', parents: [] },
    { name: 'left', parents: ['top'] },
    { name: 'right', parents: ['top'] },
    { name: 'bottom', parents: ['left', 'right'] },
  ],
};
export const FANOUT200: Shape = { id: 'W4', name: 'fanout200', steps: fanOut(200) };

/** Children of each step, and the steps with more than one parent (joins). */
export function edges(shape: Shape): { children: Map<string, string[]>; joins: Map<string, number> } {
  const children = new Map<string, string[]>(shape.steps.map((s) => [s.name, []]));
  const joins = new Map<string, number>();
  for (const s of shape.steps) {
    for (const p of s.parents) children.get(p)!.push(s.name);
    if (s.parents.length > 1) joins.set(s.name, s.parents.length);
  }
  return { children, joins };
}

/** Nearest-rank percentile of sorted samples. */
export function percentile(sorted: readonly number[], p: number): number {
  const idx = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[idx]!;
}

/** The median of samples (nearest rank). */
export function median(samples: readonly number[]): number {
  return percentile(
    [...samples].sort((a, b) => a - b),
    50,
  );
}
