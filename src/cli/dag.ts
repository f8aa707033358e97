/**
 * A text drawing of a template's dependency graph: steps grouped into layers by depth (the longest chain of
 * dependencies above them), each with the steps it waits for. Layers read top to bottom in the order steps
 * can run; every step in a layer can run in parallel once the layers above are done.
 *
 * ```
 * 0 ┌ validate_order
 *   │
 * 1 ├ process_payment  ◀─ validate_order
 *   ├ fraud_check      ◀─ validate_order
 *   │
 * 2 └ ship_order       ◀─ process_payment, fraud_check
 * ```
 */
import type { DagBody } from '../client/index.js';

/** Steps by layer: `layers[d]` holds the steps at depth `d`, in template order. */
export function dagLayers(dag: DagBody): string[][] {
  const parents = new Map<string, string[]>(dag.nodes.map((n) => [n, []]));
  for (const [from, to] of dag.edges) parents.get(to)?.push(from);
  const depth = new Map<string, number>();
  const visiting = new Set<string>();
  const depthOf = (node: string): number => {
    const known = depth.get(node);
    if (known !== undefined) return known;
    // Registered templates are acyclic; a cycle here would only come from a malformed answer, so cut it.
    if (visiting.has(node)) return 0;
    visiting.add(node);
    const d = Math.max(-1, ...(parents.get(node) ?? []).map(depthOf)) + 1;
    visiting.delete(node);
    depth.set(node, d);
    return d;
  };
  const layers: string[][] = [];
  for (const node of dag.nodes) {
    const d = depthOf(node);
    (layers[d] ??= []).push(node);
  }
  return layers.map((l) => l ?? []);
}

/** Draws the layered graph (see the module comment). `unicode: false` uses plain ASCII. */
export function drawDag(dag: DagBody, options: { unicode?: boolean } = {}): string {
  if (dag.nodes.length === 0) return '(no steps)';
  const u = options.unicode !== false;
  const g = {
    only: u ? '─' : '-',
    first: u ? '┌' : '+',
    item: u ? '├' : '|',
    last: u ? '└' : '+',
    rule: u ? '│' : '|',
    arrow: u ? '◀─' : '<-',
  };
  const parents = new Map<string, string[]>(dag.nodes.map((n) => [n, []]));
  for (const [from, to] of dag.edges) parents.get(to)?.push(from);
  const layers = dagLayers(dag);
  const labelWidth = String(layers.length - 1).length;
  const nameWidth = Math.max(...dag.nodes.map((n) => [...n].length));
  const total = dag.nodes.length;
  const lines: string[] = [];
  let index = 0;
  layers.forEach((layer, depth) => {
    layer.forEach((node, i) => {
      const spine = total === 1 ? g.only : index === 0 ? g.first : index === total - 1 ? g.last : g.item;
      const label = i === 0 ? String(depth).padStart(labelWidth) : ' '.repeat(labelWidth);
      const deps = parents.get(node) ?? [];
      const name = deps.length > 0 ? node + ' '.repeat(nameWidth - [...node].length) : node;
      lines.push(`${label} ${spine} ${name}${deps.length > 0 ? `  ${g.arrow} ${deps.join(', ')}` : ''}`);
      index += 1;
    });
    if (depth < layers.length - 1) lines.push(`${' '.repeat(labelWidth)} ${g.rule}`);
  });
  return lines.join('\n');
}
