/** A stable serialisation of a template, to tell whether two registrations of one version really differ. */
import { createHash } from 'node:crypto';
import type { TaskTemplate } from './types.js';

/**
 * JSON of `t` with every object's keys sorted, steps sorted by name and each step's dependencies sorted.
 * Only meaning counts: reordering steps, dependencies or keys gives the same string; any change to a name,
 * handler, dependency, retry field, timeout, input or description gives a different one.
 */
export function canonicalTemplateJson(t: TaskTemplate): string {
  const steps = [...t.steps]
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .map((s) => ({
      name: s.name,
      description: s.description,
      handler: s.handler,
      type: s.type,
      dependsOn: [...s.dependsOn].sort(),
      retry: s.retry,
      timeoutMs: s.timeoutMs,
      inputs: s.inputs,
      publishesEvents: s.publishesEvents,
      batch: s.batch,
    }));
  return stableStringify({
    namespace: t.namespace,
    name: t.name,
    version: t.version,
    description: t.description,
    steps,
  });
}

/** SHA-256 (hex) of {@link canonicalTemplateJson}: a short content fingerprint to store next to a template. */
export function templateFingerprint(t: TaskTemplate): string {
  return createHash('sha256').update(canonicalTemplateJson(t)).digest('hex');
}

/** `JSON.stringify` with sorted object keys at every depth; undefined properties are left out, as JSON does. */
export function stableStringify(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (typeof value !== 'object' || value === null) return value;
  // No prototype: assigning an own `__proto__` key (valid JSON) to `{}` would set its prototype instead.
  const out = Object.create(null) as Record<string, unknown>;
  for (const k of Object.keys(value).sort()) {
    const v = (value as Record<string, unknown>)[k];
    if (v !== undefined) out[k] = sortKeys(v);
  }
  return out;
}
