/** Template listings grouped by namespace and name, versions newest first. */
import type { TemplateSummaryBody } from './api-types.js';

/** Compares versions numerically where they are numbers (`1.10.0` after `1.9.0`), else as text. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split(/[.-]/);
  const pb = b.split(/[.-]/);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const x = pa[i] ?? '';
    const y = pb[i] ?? '';
    const nx = Number(x);
    const ny = Number(y);
    const diff =
      x !== '' && y !== '' && !Number.isNaN(nx) && !Number.isNaN(ny) ? nx - ny : x.localeCompare(y);
    if (diff !== 0) return diff;
  }
  return 0;
}

/** One group per namespace/name (sorted by them), each with its versions newest first. */
export function groupTemplates(items: readonly TemplateSummaryBody[]): TemplateSummaryBody[][] {
  const groups = new Map<string, TemplateSummaryBody[]>();
  for (const t of items) {
    const key = `${t.namespace}\u0000${t.name}`;
    groups.set(key, [...(groups.get(key) ?? []), t]);
  }
  return [...groups.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([, versions]) => versions.sort((a, b) => compareVersions(b.version, a.version)));
}
