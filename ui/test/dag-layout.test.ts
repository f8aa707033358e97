import { describe, expect, it } from 'vitest';
import {
  dagOfSteps,
  edgePath,
  fittedLabel,
  LARGE_GRAPH,
  layoutDag,
  nodeWidth,
  type PlacedNode,
} from '../src/dag-layout.js';

const diamond = [
  { id: 'u1', name: 'top', depends_on: [], state: 'complete' },
  { id: 'u2', name: 'left', depends_on: ['top'], state: 'in_progress' },
  { id: 'u3', name: 'right', depends_on: ['top'], state: 'error' },
  { id: 'u4', name: 'bottom', depends_on: ['left', 'right'] },
];

function overlap(a: PlacedNode, b: PlacedNode): boolean {
  return Math.abs(a.x - b.x) * 2 < a.width + b.width && Math.abs(a.y - b.y) * 2 < a.height + b.height;
}

describe('DAG layout', () => {
  it('builds one node per step and an edge per dependency, by name', () => {
    const input = dagOfSteps(diamond);
    expect(input.nodes.map((n) => [n.id, n.label, n.state])).toEqual([
      ['u1', 'top', 'complete'],
      ['u2', 'left', 'in_progress'],
      ['u3', 'right', 'error'],
      ['u4', 'bottom', undefined],
    ]);
    expect(input.edges).toEqual([
      ['u1', 'u2'],
      ['u1', 'u3'],
      ['u2', 'u4'],
      ['u3', 'u4'],
    ]);
  });

  it('links every step sharing a dependency name (batch workers) and ignores unknown names', () => {
    const input = dagOfSteps([
      { id: 'a', name: 'split', depends_on: [] },
      { id: 'w1', name: 'work', depends_on: ['split'] },
      { id: 'w2', name: 'work', depends_on: ['split'] },
      { id: 'j', name: 'join', depends_on: ['work', 'ghost'] },
    ]);
    expect(input.edges).toEqual([
      ['a', 'w1'],
      ['a', 'w2'],
      ['w1', 'j'],
      ['w2', 'j'],
    ]);
  });

  it('lays out left to right: every dependency left of its dependents, no overlapping nodes', () => {
    const layout = layoutDag(dagOfSteps(diamond));
    const at = new Map(layout.nodes.map((n) => [n.id, n]));
    for (const e of layout.edges) {
      expect((at.get(e.from) as PlacedNode).x).toBeLessThan((at.get(e.to) as PlacedNode).x);
      expect(e.points.length).toBeGreaterThanOrEqual(2);
    }
    for (const a of layout.nodes) {
      for (const b of layout.nodes) if (a !== b) expect(overlap(a, b)).toBe(false);
    }
    for (const n of layout.nodes) {
      expect(n.x + n.width / 2).toBeLessThanOrEqual(layout.width);
      expect(n.y + n.height / 2).toBeLessThanOrEqual(layout.height);
    }
  });

  it('lays out a 1,000-step fan-out and join with the layered layout, as tidily', () => {
    const steps = [
      { id: 's', name: 'start', depends_on: [] as string[] },
      ...Array.from({ length: 998 }, (_, i) => ({ id: `w${i}`, name: `work_${i}`, depends_on: ['start'] })),
      { id: 'e', name: 'end', depends_on: Array.from({ length: 998 }, (_, i) => `work_${i}`) },
    ];
    expect(steps.length).toBeGreaterThan(LARGE_GRAPH);
    const layout = layoutDag(dagOfSteps(steps));
    expect(layout.nodes).toHaveLength(1000);
    expect(layout.edges).toHaveLength(1996);
    const at = new Map(layout.nodes.map((n) => [n.id, n]));
    for (const e of layout.edges) {
      expect((at.get(e.from) as PlacedNode).x).toBeLessThan((at.get(e.to) as PlacedNode).x);
    }
    const column = layout.nodes.filter((n) => n.id.startsWith('w')).sort((a, b) => a.y - b.y);
    for (let i = 1; i < column.length; i++) {
      expect(overlap(column[i - 1] as PlacedNode, column[i] as PlacedNode)).toBe(false);
    }
    for (const n of layout.nodes) expect(n.y + n.height / 2).toBeLessThanOrEqual(layout.height);
  });

  it('orders a large graph by parents and keeps nodes of a (malformed) cycle', () => {
    const chain = Array.from({ length: LARGE_GRAPH + 10 }, (_, i) => ({
      id: `n${i}`,
      name: `n${i}`,
      depends_on: i === 0 ? ['n3'] : [`n${i - 1}`],
    }));
    const layout = layoutDag(dagOfSteps(chain));
    expect(layout.nodes.every((n) => Number.isFinite(n.x) && Number.isFinite(n.y))).toBe(true);
    expect(layout.nodes).toHaveLength(chain.length);
  });

  it('sizes nodes to their labels within bounds and draws edges as paths', () => {
    expect(nodeWidth('a')).toBe(96);
    expect(nodeWidth('x'.repeat(200))).toBe(220);
    expect(fittedLabel('short')).toBe('short');
    expect(fittedLabel('y'.repeat(100)).endsWith('…')).toBe(true);
    expect(
      edgePath([
        { x: 0, y: 1 },
        { x: 2.25, y: 3 },
      ]),
    ).toBe('M0.0,1.0 L2.3,3.0');
  });
});
