/** The shapes of DAG drawing data: the graph to lay out and the positioned result. */

/** A node to draw: a step. */
export interface DagNodeInput {
  /** Unique id (the step uuid for a task, the step name for a template). */
  id: string;
  label: string;
  state?: string;
  /** A smaller note under the label, e.g. `2/3 attempts`. */
  note?: string;
}

/** The graph to lay out; an edge `[from, to]` means `from` must finish before `to`. */
export interface DagInput {
  nodes: DagNodeInput[];
  edges: [string, string][];
}

/** A positioned node: centre `x`, `y` and size. */
export interface PlacedNode extends DagNodeInput {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** A routed edge: the polyline from the `from` node to the `to` node. */
export interface PlacedEdge {
  from: string;
  to: string;
  points: { x: number; y: number }[];
}

export interface DagLayout {
  width: number;
  height: number;
  nodes: PlacedNode[];
  edges: PlacedEdge[];
}
