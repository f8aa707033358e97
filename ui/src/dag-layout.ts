/**
 * DAG drawing data: the graph of a task's steps (or a template's) as nodes and edges, laid out left to right by
 * dagre. Pure: the same input gives the same picture, and nothing here touches the DOM.
 */
import { Graph, layout } from '@dagrejs/dagre';
import type { DagInput, DagLayout, PlacedEdge, PlacedNode } from './dag-types.js';
import { layeredLayout } from './layered-layout.js';

export type { DagInput, DagLayout, DagNodeInput, PlacedEdge, PlacedNode } from './dag-types.js';

/** A step as the graph needs it (task steps and template steps both fit). */
export interface GraphStep {
  id: string;
  name: string;
  depends_on: readonly string[];
  state?: string;
  note?: string;
}

/**
 * The graph of steps: one node per step, an edge from each dependency to its dependent. Dependencies are by
 * name; a name shared by several steps (batch workers) links them all, and a name that names no step is ignored
 * (it cannot be drawn).
 */
export function dagOfSteps(steps: readonly GraphStep[]): DagInput {
  const byName = new Map<string, string[]>();
  for (const s of steps) byName.set(s.name, [...(byName.get(s.name) ?? []), s.id]);
  const edges: [string, string][] = [];
  for (const s of steps) {
    for (const dep of s.depends_on) {
      for (const from of byName.get(dep) ?? []) edges.push([from, s.id]);
    }
  }
  const nodes = steps.map((s) => ({
    id: s.id,
    label: s.name,
    ...(s.state === undefined ? {} : { state: s.state }),
    ...(s.note === undefined ? {} : { note: s.note }),
  }));
  return { nodes, edges };
}

const NODE_HEIGHT = 40;
const CHAR_WIDTH = 7.2;

/** Node width from its label: room for the text, within bounds (long names are cut with an ellipsis). */
export function nodeWidth(label: string): number {
  return Math.round(Math.min(220, Math.max(96, label.length * CHAR_WIDTH + 40)));
}

/** The label as drawn in a node of {@link nodeWidth}: cut with `…` when it does not fit. */
export function fittedLabel(label: string): string {
  const max = Math.floor((220 - 40) / CHAR_WIDTH);
  return label.length <= max ? label : `${label.slice(0, max - 1)}…`;
}

/**
 * Above this many nodes dagre's crossing minimisation takes too long for a page (seconds at 1,000 steps), and
 * the linear layered layout is used instead.
 */
export const LARGE_GRAPH = 150;

const NODE_SEP = 14;
const RANK_SEP = 48;
const MARGIN = 12;

/** Lays the graph out left to right: dagre up to {@link LARGE_GRAPH} nodes, the layered layout above. */
export function layoutDag(input: DagInput): DagLayout {
  if (input.nodes.length > LARGE_GRAPH) {
    return layeredLayout(input, {
      nodeWidth,
      nodeHeight: NODE_HEIGHT,
      nodeSep: NODE_SEP,
      rankSep: RANK_SEP,
      margin: MARGIN,
    });
  }
  const g = new Graph({ multigraph: false });
  g.setGraph({ rankdir: 'LR', nodesep: NODE_SEP, ranksep: RANK_SEP, marginx: MARGIN, marginy: MARGIN });
  g.setDefaultEdgeLabel(() => ({}));
  for (const n of input.nodes) g.setNode(n.id, { width: nodeWidth(n.label), height: NODE_HEIGHT });
  for (const [from, to] of input.edges) {
    if (g.hasNode(from) && g.hasNode(to) && from !== to) g.setEdge(from, to);
  }
  layout(g);
  const nodes = input.nodes.map((n): PlacedNode => {
    const placed = g.node(n.id) as { x: number; y: number; width: number; height: number };
    return { ...n, x: placed.x, y: placed.y, width: placed.width, height: placed.height };
  });
  const edges = g.edges().map((e): PlacedEdge => {
    const label = g.edge(e) as { points?: { x: number; y: number }[] };
    return { from: e.v, to: e.w, points: label.points ?? [] };
  });
  const graph = g.graph() as { width?: number; height?: number };
  return { width: Math.ceil(graph.width ?? 0), height: Math.ceil(graph.height ?? 0), nodes, edges };
}

/** An SVG path through the edge's points (straight segments; dagre routes around nodes). */
export function edgePath(points: readonly { x: number; y: number }[]): string {
  return points.map((p, i) => `${i === 0 ? 'M' : 'L'}${p.x.toFixed(1)},${p.y.toFixed(1)}`).join(' ');
}
