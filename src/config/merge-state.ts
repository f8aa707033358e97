import { join } from 'node:path';
import { z } from 'zod';
import type { ValidationIssue } from '../errors.js';
import { schemaAt, tableKeysAt } from './schema-walk.js';
import { CONFIG_SECTIONS } from './schema.js';
import { findKeyLine, isTable, joinPath, setOwn, type Table } from './toml-source.js';

/**
 * The merge behind `loadConfig`: layers of tables merged key by key, with the source of every value kept so
 * validation problems can name the file (or variable) that supplied it.
 *
 * @internal
 */

/** Adds the line of `issue.path` in `text`, when it can be found. @internal */
export function withLine(issue: ValidationIssue, text: string | undefined): ValidationIssue {
  if (text === undefined || issue.path === '') return issue;
  const line = findKeyLine(text, issue.path);
  return line === undefined ? issue : { ...issue, line };
}

/** @internal The merged tree plus, for every dotted path, the file that supplied its current value. */
export class MergeState {
  readonly root: Table = {};
  readonly sources = new Map<string, string>();
  readonly texts = new Map<string, string>();
  /** Paths whose current value is a string produced by `${...}` interpolation. */
  private readonly interpolated = new Set<string>();

  apply(data: Table, source: string, interpolated: ReadonlySet<string>): void {
    this.mergeInto(this.root, data, '', source, interpolated);
  }

  private mergeInto(
    target: Table,
    src: Readonly<Table>,
    prefix: string,
    source: string,
    interpolated: ReadonlySet<string>,
  ): void {
    for (const [key, value] of Object.entries(src)) {
      // `undefined` only occurs in overrides (optional keys); it means "not overridden".
      if (value === undefined) continue;
      const path = joinPath(prefix, key);
      const existing = Object.hasOwn(target, key) ? target[key] : undefined;
      if (isTable(value) && isTable(existing)) {
        this.sources.set(path, source);
        this.mergeInto(existing, value, path, source, interpolated);
        continue;
      }
      this.forget(path);
      setOwn(target, key, cloneValue(value));
      this.record(path, value, source, interpolated);
    }
  }

  private forget(path: string): void {
    const nested = `${path}.`;
    for (const key of [...this.sources.keys()]) {
      if (key === path || key.startsWith(nested)) this.sources.delete(key);
    }
    for (const key of [...this.interpolated]) {
      if (key === path || key.startsWith(nested)) this.interpolated.delete(key);
    }
  }

  private record(path: string, value: unknown, source: string, interpolated: ReadonlySet<string>): void {
    this.sources.set(path, source);
    if (interpolated.has(path)) this.interpolated.add(path);
    if (isTable(value)) {
      for (const [k, v] of Object.entries(value)) this.record(joinPath(path, k), v, source, interpolated);
    }
  }

  /**
   * TOML can only carry a placeholder inside a string, so `"${POOL_SIZE:-20}"` arrives as text. Where the
   * schema wants a number or boolean and the text is exactly one, convert it; anything else is left for the
   * schema to reject with a clear message.
   */
  coerceInterpolated(): void {
    for (const path of this.interpolated) {
      const parts = path.split('.');
      const last = parts.pop();
      if (last === undefined) continue;
      const parent = getAt(this.root, parts.join('.'));
      if (!isTable(parent)) continue;
      const raw = parent[last];
      if (typeof raw !== 'string') continue;
      const schema = schemaAt(path);
      const text = raw.trim();
      if (schema instanceof z.ZodNumber && /^-?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(text)) {
        setOwn(parent, last, Number(text));
      } else if (schema instanceof z.ZodBoolean && (text === 'true' || text === 'false')) {
        setOwn(parent, last, text === 'true');
      }
    }
  }

  /** Converts one zod issue into issues naming the dotted key and the file that supplied the value. */
  toValidationIssues(issue: z.core.$ZodIssue, configDir: string): ValidationIssue[] {
    const path = issue.path.map(String).join('.');
    if (issue.code === 'unrecognized_keys') {
      const allowed = tableKeysAt(path);
      return issue.keys.map((key) => {
        const full = joinPath(path, key);
        const suggestion = closest(key, allowed);
        const message = `unknown key${suggestion ? ` (did you mean '${suggestion}'?)` : ''}`;
        return this.locate({ path: full, message });
      });
    }
    const value = getAt(this.root, path);
    if (value === undefined) {
      const section = path.split('.')[0] ?? '';
      const base = (CONFIG_SECTIONS as readonly string[]).includes(section)
        ? join(configDir, 'base', `${section}.toml`)
        : undefined;
      const expected = issue.code === 'invalid_type' ? ` (expected ${issue.expected})` : '';
      const located = this.locate({ path, message: `missing required key${expected}` });
      // Nobody supplied the key: point at the base file, which is where every default belongs.
      return [located.source === undefined && base !== undefined ? { ...located, source: base } : located];
    }
    return [this.locate({ path, message: `${issue.message} (got ${formatValue(value)})` })];
  }

  private locate(issue: ValidationIssue): ValidationIssue {
    const source = this.sourceOf(issue.path);
    if (source === undefined) return issue;
    return withLine({ ...issue, source }, this.texts.get(source));
  }

  private sourceOf(path: string): string | undefined {
    const exact = this.sources.get(path);
    if (exact !== undefined) return exact;
    const nested = `${path}.`;
    for (const [key, source] of this.sources) if (key.startsWith(nested)) return source;
    return undefined;
  }
}

function getAt(root: Table, path: string): unknown {
  if (path === '') return root;
  let current: unknown = root;
  for (const part of path.split('.')) {
    if (!isTable(current) || !Object.hasOwn(current, part)) return undefined;
    current = current[part];
  }
  return current;
}

function cloneValue(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(cloneValue);
  if (isTable(value)) {
    const out: Table = {};
    for (const [k, v] of Object.entries(value)) setOwn(out, k, cloneValue(v));
    return out;
  }
  return value;
}

function formatValue(value: unknown): string {
  if (isTable(value)) return 'a table';
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

/** Closest allowed key within a small edit distance, to turn a typo into a fix. */
function closest(key: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Math.max(2, Math.floor(key.length / 4)) + 1;
  for (const candidate of candidates) {
    const d = editDistance(key, candidate);
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      cur[j] = Math.min((prev[j] ?? 0) + 1, (cur[j - 1] ?? 0) + 1, (prev[j - 1] ?? 0) + cost);
    }
    prev = cur;
  }
  return prev[b.length] ?? 0;
}

/** Freezes `value` and everything in it. @internal */
export function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}
