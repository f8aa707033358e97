import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { availableEnvironments, defaultConfigDir } from './load.js';
import { walkSchema } from './schema-walk.js';
import { CONFIG_SECTIONS } from './schema.js';
import {
  interpolateTable,
  isTable,
  joinPath,
  readTomlFile,
  referencedVariables,
  type Table,
} from './toml-source.js';

/** One configuration key, as documented. */
export interface ConfigKeyDescription {
  /** Dotted key, e.g. `worker.channels.dispatch.capacity`. */
  key: string;
  /** Human-readable type with constraints, e.g. `integer (1..500)`, or enum values as `block | drop_oldest`. */
  type: string;
  /** Base type of the value. */
  kind: 'integer' | 'number' | 'boolean' | 'string' | 'enum' | 'array';
  minimum?: number;
  maximum?: number;
  /** Allowed values of an enum. */
  values?: readonly string[];
  /** Value in `base/*.toml`, with `${VAR:-default}` placeholders resolved to their defaults. */
  default?: unknown;
  /** Environment name -> value set by that environment's files, for environments that override the key. */
  environments: Record<string, unknown>;
  /** Environment variables referenced by the base value (`${VAR}`), which override it when set. */
  envVars: string[];
  description: string;
}

/** One configuration table (TOML section), as documented. */
export interface ConfigTableDescription {
  key: string;
  description: string;
}

/** Options of {@link describeConfigSchema}. */
export interface DescribeConfigOptions {
  /** Where to read defaults and environment overrides from. Defaults to the package's `config/tasker`. */
  configDir?: string | URL;
}

/**
 * Every leaf key of the configuration schema with its type, constraints, description, base default and
 * per-environment overrides, in schema order. Used to generate `docs/configuration.md` and by tooling.
 * Unreadable or missing files are skipped (their values are then simply absent), since this is
 * documentation, not validation.
 */
export function describeConfigSchema(options: DescribeConfigOptions = {}): ConfigKeyDescription[] {
  const dir =
    options.configDir instanceof URL
      ? fileURLToPath(options.configDir)
      : (options.configDir ?? defaultConfigDir());
  const base = readLayer(join(dir, 'base'));
  const environments = existsSync(dir)
    ? availableEnvironments(dir).map((name) => ({ name, layer: readLayer(join(dir, 'environments', name)) }))
    : [];

  return walkSchema().leaves.map((leaf) => {
    const entry: ConfigKeyDescription = {
      key: leaf.key,
      type: typeLabel(leaf),
      kind: leaf.kind,
      environments: {},
      envVars: base.envVars.get(leaf.key) ?? [],
      description: leaf.description,
    };
    if (leaf.minimum !== undefined) entry.minimum = leaf.minimum;
    if (leaf.maximum !== undefined) entry.maximum = leaf.maximum;
    if (leaf.values !== undefined) entry.values = leaf.values;
    if (base.values.has(leaf.key)) entry.default = base.values.get(leaf.key);
    for (const { name, layer } of environments) {
      if (layer.values.has(leaf.key)) entry.environments[name] = layer.values.get(leaf.key);
    }
    return entry;
  });
}

/** Every table of the schema with its description, in schema order. */
export function describeConfigTables(): ConfigTableDescription[] {
  return walkSchema().tables;
}

function typeLabel(leaf: {
  kind: string;
  minimum?: number;
  maximum?: number;
  values?: readonly string[];
}): string {
  if (leaf.values) return leaf.values.join(' | ');
  if (leaf.minimum !== undefined || leaf.maximum !== undefined) {
    const fmt = (n: number | undefined): string => (n === undefined ? '' : n.toLocaleString('en-US'));
    return `${leaf.kind} (${fmt(leaf.minimum)}..${fmt(leaf.maximum)})`;
  }
  return leaf.kind;
}

interface Layer {
  values: Map<string, unknown>;
  envVars: Map<string, string[]>;
}

/** Flattened leaf values of the three section files in one directory; placeholders resolved to defaults. */
function readLayer(dir: string): Layer {
  const layer: Layer = { values: new Map(), envVars: new Map() };
  for (const section of CONFIG_SECTIONS) {
    const file = join(dir, `${section}.toml`);
    if (!existsSync(file)) continue;
    const parsed = readTomlFile(file, []);
    if (!parsed) continue;
    collectEnvVars(parsed.data, '', layer.envVars);
    // An empty environment makes every placeholder fall back to its documented default.
    const { data } = interpolateTable(parsed.data, {}, () => undefined);
    flatten(data, '', layer.values);
  }
  return layer;
}

function flatten(table: Table, prefix: string, out: Map<string, unknown>): void {
  for (const [key, value] of Object.entries(table)) {
    const path = joinPath(prefix, key);
    if (isTable(value)) flatten(value, path, out);
    else out.set(path, value);
  }
}

function collectEnvVars(table: Table, prefix: string, out: Map<string, string[]>): void {
  for (const [key, value] of Object.entries(table)) {
    const path = joinPath(prefix, key);
    if (isTable(value)) collectEnvVars(value, path, out);
    else if (typeof value === 'string') {
      const names = referencedVariables(value);
      if (names.length > 0) out.set(path, names);
    }
  }
}
