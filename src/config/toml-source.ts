import { readFileSync } from 'node:fs';
import { parse as parseToml, TomlError } from 'smol-toml';
import type { ValidationIssue } from '../errors.js';

/**
 * Reading one TOML config file: parsing, `${VAR}` interpolation and best-effort line lookup for error
 * messages.
 *
 * @internal
 */

/** A parsed table; values are TOML values (plain objects for tables). @internal */
export type Table = Record<string, unknown>;

/** Environment variables available to `${VAR}` interpolation. */
export type ConfigEnv = NodeJS.ProcessEnv | Readonly<Record<string, string | undefined>>;

/** True for plain objects (TOML tables), false for arrays, dates and primitives. @internal */
export function isTable(value: unknown): value is Table {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/**
 * Assigns an own property even for keys such as `__proto__`, which a plain assignment would treat as the
 * prototype setter; such keys then reach the strict schema and are reported as unknown.
 * @internal
 */
export function setOwn(target: Table, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

/** Joins a dotted key path. @internal */
export function joinPath(prefix: string, key: string): string {
  return prefix === '' ? key : `${prefix}.${key}`;
}

/** Reads and parses a TOML file; on failure records an issue and returns undefined. @internal */
export function readTomlFile(
  file: string,
  issues: ValidationIssue[],
): { text: string; data: Table } | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    issues.push({ path: '', message: `cannot read file: ${(err as Error).message}`, source: file });
    return undefined;
  }
  try {
    return { text, data: parseToml(text) };
  } catch (err) {
    if (err instanceof TomlError) {
      const firstLine = err.message.split('\n')[0] ?? err.message;
      issues.push({ path: '', message: `invalid TOML: ${firstLine}`, source: file, line: err.line });
    } else {
      issues.push({ path: '', message: `invalid TOML: ${(err as Error).message}`, source: file });
    }
    return undefined;
  }
}

const PLACEHOLDER_BODY = /^([A-Za-z_][A-Za-z0-9_]*)(?::-(.*))?$/s;

/** Names of the variables referenced by `${...}` placeholders in a string. @internal */
export function referencedVariables(value: string): string[] {
  const names: string[] = [];
  for (const m of value.matchAll(/(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)/g)) {
    if (m[1] !== undefined) names.push(m[1]);
  }
  return names;
}

/**
 * Expands `${VAR}` and `${VAR:-default}` in one string. As in POSIX shells, the default is used when the
 * variable is unset or empty. `$${` yields a literal `${`. Returns an error message instead of throwing so
 * the caller can attach the key and file.
 * @internal
 */
export function interpolateString(value: string, env: ConfigEnv): { value: string } | { error: string } {
  let out = '';
  let i = 0;
  for (;;) {
    const start = value.indexOf('${', i);
    if (start === -1) return { value: out + value.slice(i) };
    if (start > i && value[start - 1] === '$') {
      // `$${` escape: keep the text up to (not including) the extra `$`, then a literal `${`.
      out += value.slice(i, start - 1) + '${';
      i = start + 2;
      continue;
    }
    const end = value.indexOf('}', start + 2);
    if (end === -1) return { error: `unterminated placeholder '${value.slice(start)}'` };
    const body = value.slice(start + 2, end);
    const m = PLACEHOLDER_BODY.exec(body);
    if (!m || m[1] === undefined) {
      return { error: `invalid placeholder '\${${body}}' (expected \${NAME} or \${NAME:-default})` };
    }
    const name = m[1];
    const fallback = m[2];
    const current = env[name];
    let replacement: string;
    if (fallback !== undefined) {
      replacement = current === undefined || current === '' ? fallback : current;
    } else if (current === undefined) {
      return {
        error: `environment variable ${name} is not set (use \${${name}:-default} to give a default)`,
      };
    } else {
      replacement = current;
    }
    out += value.slice(i, start) + replacement;
    i = end + 1;
  }
}

/**
 * Interpolates every string (in tables and arrays) of a parsed file. Returns the new table and the dotted
 * paths of string leaves that contained a placeholder, so the loader can later coerce e.g. `"${PORT}"` to a
 * number where the schema wants one.
 * @internal
 */
export function interpolateTable(
  data: Table,
  env: ConfigEnv,
  onError: (path: string, message: string) => void,
): { data: Table; interpolated: Set<string> } {
  const interpolated = new Set<string>();
  const visit = (value: unknown, path: string): unknown => {
    if (typeof value === 'string') {
      if (!value.includes('${')) return value;
      const result = interpolateString(value, env);
      if ('error' in result) {
        onError(path, result.error);
        return value;
      }
      interpolated.add(path);
      return result.value;
    }
    if (Array.isArray(value)) return value.map((v, idx) => visit(v, `${path}[${idx}]`));
    if (isTable(value)) {
      const out: Table = {};
      for (const [k, v] of Object.entries(value)) setOwn(out, k, visit(v, joinPath(path, k)));
      return out;
    }
    return value;
  };
  return { data: visit(data, '') as Table, interpolated };
}

function normalizeKey(raw: string): string {
  return raw
    .split('.')
    .map((p) => p.trim().replace(/^["']|["']$/g, ''))
    .join('.');
}

/**
 * Best-effort 1-based line of a dotted key (or table) in TOML text, for error messages. Understands table
 * headers and (dotted) `key = value` lines; returns undefined when unsure rather than pointing at the wrong
 * line.
 * @internal
 */
export function findKeyLine(text: string, path: string): number | undefined {
  let table = '';
  let prefixHit: number | undefined;
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = (lines[i] ?? '').trim();
    if (line === '' || line.startsWith('#')) continue;
    const header = /^\[\[?([^\]]+)\]\]?/.exec(line);
    let full: string | undefined;
    if (header?.[1] !== undefined) {
      table = normalizeKey(header[1]);
      full = table;
    } else {
      const kv = /^([A-Za-z0-9_\-."' ]+?)\s*=/.exec(line);
      if (kv?.[1] !== undefined) full = joinPath(table, normalizeKey(kv[1]));
    }
    if (full === undefined) continue;
    if (full === path) return i + 1;
    if (prefixHit === undefined && full.startsWith(`${path}.`)) prefixHit = i + 1;
  }
  return prefixHit;
}
