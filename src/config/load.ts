import { existsSync, readdirSync, statSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { ConfigError, type ValidationIssue } from '../errors.js';
import { schemaAt, tableKeysAt } from './schema-walk.js';
import {
  CONFIG_SECTIONS,
  taskerConfigSchema,
  type ConfigSection,
  type DeepPartial,
  type TaskerConfig,
} from './schema.js';
import {
  findKeyLine,
  interpolateTable,
  isTable,
  joinPath,
  readTomlFile,
  setOwn,
  type ConfigEnv,
  type Table,
} from './toml-source.js';

/** Environments that always exist, even without a directory under `environments/`. */
export const KNOWN_ENVIRONMENTS = ['test', 'development', 'production'] as const;
/** Used when neither `options.environment` nor `TASKER_ENV` is set. */
export const DEFAULT_ENVIRONMENT = 'development';
/** The `source` reported for values that came from `loadConfig({ overrides })`. */
export const OVERRIDES_SOURCE = '<overrides>';

/** Options of {@link loadConfig}. */
export interface LoadConfigOptions {
  /** Variables for `${VAR}` interpolation and `TASKER_ENV`. Defaults to `process.env`. */
  env?: ConfigEnv;
  /** Environment name; wins over `env.TASKER_ENV`. */
  environment?: string;
  /** Directory holding `base/` and `environments/`. Defaults to the package's `config/tasker`. */
  configDir?: string | URL;
  /** Values applied after every file (tests, benchmarks); validated like the rest. */
  overrides?: DeepPartial<TaskerConfig>;
}

/** A loaded configuration together with where it came from. */
export interface LoadedConfig {
  config: TaskerConfig;
  /** The environment that was selected. */
  environment: string;
  /** Absolute configuration directory. */
  configDir: string;
  /** Files that were read, in merge order. */
  files: readonly string[];
  /** Dotted key (leaf or table) -> file (or {@link OVERRIDES_SOURCE}) that supplied its final value. */
  sources: ReadonlyMap<string, string>;
}

/** The package's own `config/tasker` directory. */
export function defaultConfigDir(): string {
  return fileURLToPath(new URL('../../config/tasker', import.meta.url));
}

/**
 * Loads, merges and validates the configuration for one environment and returns it deep-frozen.
 *
 * Merge order (later wins; tables merge key by key, scalars and arrays replace):
 * `base/{common,orchestration,worker}.toml`, then `environments/<env>/` files of the same names (each
 * optional), then `options.overrides`.
 *
 * @throws {ConfigError} listing every problem found, each with its dotted key and source file.
 */
export function loadConfig(options: LoadConfigOptions = {}): TaskerConfig {
  return loadConfigDetailed(options).config;
}

/** Like {@link loadConfig}, but also returns the environment, the files read and per-key provenance. */
export function loadConfigDetailed({
  env = process.env,
  environment,
  configDir,
  overrides,
}: LoadConfigOptions = {}): LoadedConfig {
  const dir = resolveConfigDir(configDir);
  const envName = resolveEnvironment(dir, environment, env);
  const issues: ValidationIssue[] = [];
  const state = new MergeState();
  const files: string[] = [];

  for (const layer of ['base', envName] as const) {
    for (const section of CONFIG_SECTIONS) {
      const file =
        layer === 'base'
          ? join(dir, 'base', `${section}.toml`)
          : join(dir, 'environments', layer, `${section}.toml`);
      if (!existsSync(file)) {
        // Environment files are optional; base files define every key, so one missing is an error.
        if (layer === 'base') {
          issues.push({ path: section, message: 'base configuration file is missing', source: file });
        }
        continue;
      }
      const parsed = readTomlFile(file, issues);
      if (!parsed) continue;
      files.push(file);
      state.texts.set(file, parsed.text);
      const scoped = keepOwnSection(parsed.data, section, file, parsed.text, issues);
      const { data, interpolated } = interpolateTable(scoped, env, (path, message) => {
        issues.push(withLine({ path, message, source: file }, parsed.text));
      });
      state.apply(data, file, interpolated);
    }
  }
  // Interpolation and parse problems make later schema errors noise; report them on their own.
  if (issues.length > 0) throw new ConfigError(`invalid configuration (environment '${envName}')`, issues);

  if (overrides !== undefined) {
    if (!isTable(overrides)) {
      throw new ConfigError('invalid configuration overrides', [
        { path: '', message: 'overrides must be a plain object', source: OVERRIDES_SOURCE },
      ]);
    }
    state.apply(overrides, OVERRIDES_SOURCE, new Set());
  }

  state.coerceInterpolated();
  const result = taskerConfigSchema.safeParse(state.root);
  if (!result.success) {
    throw new ConfigError(
      `invalid configuration (environment '${envName}')`,
      result.error.issues.flatMap((i) => state.toValidationIssues(i, dir)),
    );
  }
  return {
    config: deepFreeze(result.data),
    environment: envName,
    configDir: dir,
    files,
    sources: state.sources,
  };
}

function resolveConfigDir(configDir: string | URL | undefined): string {
  const dir =
    configDir === undefined
      ? defaultConfigDir()
      : configDir instanceof URL
        ? fileURLToPath(configDir)
        : resolve(configDir);
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw new ConfigError(`configuration directory not found: ${dir}`, [
      { path: '', message: 'directory does not exist', source: dir },
    ]);
  }
  return dir;
}

/** Environments selectable in `dir`: the built-in names plus any directory under `environments/`. */
export function availableEnvironments(configDir: string | URL = defaultConfigDir()): string[] {
  const dir = configDir instanceof URL ? fileURLToPath(configDir) : configDir;
  const names = new Set<string>(KNOWN_ENVIRONMENTS);
  const envRoot = join(dir, 'environments');
  if (existsSync(envRoot)) {
    for (const entry of readdirSync(envRoot, { withFileTypes: true })) {
      if (entry.isDirectory()) names.add(entry.name);
    }
  }
  return [...names];
}

function resolveEnvironment(dir: string, explicit: string | undefined, env: ConfigEnv): string {
  const fromEnv = env['TASKER_ENV'];
  const name = explicit ?? (fromEnv === undefined || fromEnv === '' ? DEFAULT_ENVIRONMENT : fromEnv);
  const source = explicit !== undefined ? 'options.environment' : 'TASKER_ENV';
  const known = availableEnvironments(dir);
  // The name becomes a path segment, so anything but a plain identifier is refused before touching disk.
  if (!/^[A-Za-z0-9][A-Za-z0-9_-]*$/.test(name) || !known.includes(name)) {
    throw new ConfigError(`unknown environment '${name}'`, [
      {
        path: 'environment',
        message: `unknown environment '${name}'; expected one of: ${known.join(', ')}`,
        source,
      },
    ]);
  }
  return name;
}

/**
 * Each file may only define its own section (`worker.toml` -> `[worker...]`), so a setting cannot hide in
 * an unexpected file. Other top-level keys are reported and left out of the merge.
 */
function keepOwnSection(
  data: Table,
  section: ConfigSection,
  file: string,
  text: string,
  issues: ValidationIssue[],
): Table {
  const kept: Table = {};
  for (const [key, value] of Object.entries(data)) {
    if (key === section) {
      setOwn(kept, key, value);
      continue;
    }
    const hint = (CONFIG_SECTIONS as readonly string[]).includes(key)
      ? `; [${key}] settings belong in ${key}.toml`
      : `; did you mean [${section}.${key}]?`;
    issues.push(
      withLine(
        {
          path: key,
          message: `${basename(file)} may only define keys under [${section}]${hint}`,
          source: file,
        },
        text,
      ),
    );
  }
  return kept;
}

function withLine(issue: ValidationIssue, text: string | undefined): ValidationIssue {
  if (text === undefined || issue.path === '') return issue;
  const line = findKeyLine(text, issue.path);
  return line === undefined ? issue : { ...issue, line };
}

/** The merged tree plus, for every dotted path, the file that supplied its current value. */
class MergeState {
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

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}
