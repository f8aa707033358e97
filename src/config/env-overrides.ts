import { z } from 'zod';
import type { ValidationIssue } from '../errors.js';
import { schemaAt, tableKeysAt } from './schema-walk.js';
import { setOwn, type ConfigEnv, type Table } from './toml-source.js';

/**
 * Setting any configuration key from the environment, by one convention: `TASKER__` followed by the dotted
 * key with `__` for each dot, in any case. `TASKER__WORKER__MAX_CONCURRENT_HANDLERS=20` sets
 * `worker.max_concurrent_handlers`. The value is read as the key's schema type: numbers and booleans
 * (`true`/`false`) from their text, strings and enum values as they are, arrays and tables as JSON.
 *
 * @internal
 */

/** Prefix of the variables that set configuration keys. */
export const ENV_OVERRIDE_PREFIX = 'TASKER__';

/** One key set from the environment. @internal */
export interface EnvOverride {
  /** The variable's name, reported as the source of the value. */
  variable: string;
  /** Dotted key. */
  path: string;
  /** `{ section: { ...: value } }`, ready to merge. */
  data: Table;
}

/** The environment variable that sets `path` (a dotted key). */
export function envVariableFor(path: string): string {
  return ENV_OVERRIDE_PREFIX + path.split('.').join('__').toUpperCase();
}

/**
 * Reads every `TASKER__*` variable of `env` in name order. Problems (unknown key, value not of the key's
 * type) are appended to `issues`, naming the variable, and the variable is left out.
 */
export function readEnvOverrides(env: ConfigEnv, issues: ValidationIssue[]): EnvOverride[] {
  const out: EnvOverride[] = [];
  const names = Object.keys(env)
    .filter((n) => n.toUpperCase().startsWith(ENV_OVERRIDE_PREFIX))
    .sort();
  for (const variable of names) {
    const raw = env[variable];
    if (raw === undefined) continue;
    const parts = variable.slice(ENV_OVERRIDE_PREFIX.length).toLowerCase().split('__');
    const path = parts.join('.');
    const schema = parts.every((p) => p !== '') ? schemaAt(path) : undefined;
    if (schema === undefined || path === '') {
      issues.push({ path, message: unknownKeyMessage(parts), source: variable });
      continue;
    }
    const parsed = parseValue(raw, schema);
    if ('error' in parsed) {
      issues.push({ path, message: parsed.error, source: variable });
      continue;
    }
    out.push({ variable, path, data: nest(parts, parsed.value) });
  }
  return out;
}

function unknownKeyMessage(parts: readonly string[]): string {
  // Name the deepest table that exists, and what it holds, so a typo is easy to fix.
  let known = '';
  for (const part of parts) {
    const next = known === '' ? part : `${known}.${part}`;
    if (schemaAt(next) === undefined || part === '') break;
    known = next;
  }
  const keys = tableKeysAt(known);
  const hint =
    keys.length > 0 ? `; ${known === '' ? 'sections' : `keys of [${known}]`}: ${keys.join(', ')}` : '';
  return `unknown configuration key (variables are ${ENV_OVERRIDE_PREFIX}<SECTION>__<KEY>, '__' between levels)${hint}`;
}

function parseValue(raw: string, schema: z.ZodType): { value: unknown } | { error: string } {
  const text = raw.trim();
  if (schema instanceof z.ZodNumber) {
    if (!/^-?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(text)) {
      return { error: `expected a number (got '${raw}')` };
    }
    return { value: Number(text) };
  }
  if (schema instanceof z.ZodBoolean) {
    const lower = text.toLowerCase();
    if (lower !== 'true' && lower !== 'false') return { error: `expected true or false (got '${raw}')` };
    return { value: lower === 'true' };
  }
  if (schema instanceof z.ZodArray || schema instanceof z.ZodObject) {
    try {
      return { value: JSON.parse(text) as unknown };
    } catch (e) {
      const what = schema instanceof z.ZodArray ? 'a JSON array' : 'a JSON object';
      return { error: `expected ${what}: ${e instanceof Error ? e.message : String(e)}` };
    }
  }
  // Strings and enum values are taken as they are (the schema checks enum membership).
  return { value: raw };
}

function nest(parts: readonly string[], value: unknown): Table {
  const root: Table = {};
  let current = root;
  parts.forEach((part, i) => {
    if (i === parts.length - 1) {
      setOwn(current, part, value);
      return;
    }
    const next: Table = {};
    setOwn(current, part, next);
    current = next;
  });
  return root;
}
