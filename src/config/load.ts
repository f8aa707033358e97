import { existsSync, readdirSync, statSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError, type ValidationIssue } from '../errors.js';
import { readEnvOverrides } from './env-overrides.js';
import { deepFreeze, MergeState, withLine } from './merge-state.js';
import {
  CONFIG_SECTIONS,
  taskerConfigSchema,
  type ConfigSection,
  type DeepPartial,
  type TaskerConfig,
} from './schema.js';
import {
  interpolateTable,
  isTable,
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
  /**
   * Variables for `${VAR}` interpolation, `TASKER_ENV` and `TASKER__<SECTION>__<KEY>` key overrides.
   * Defaults to `process.env`.
   */
  env?: ConfigEnv;
  /** Environment name; wins over `env.TASKER_ENV`. */
  environment?: string;
  /** Directory holding `base/` and `environments/`. Defaults to the package's `config/tasker`. */
  configDir?: string | URL;
  /**
   * A directory of overrides merged over `configDir` (the CLI's `--config-dir`): its `base/` and
   * `environments/<env>/` files are all optional and only need the keys they change.
   */
  overlayDir?: string | URL;
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
  /** Absolute overlay directory, when one was given. */
  overlayDir?: string;
  /** Files that were read, in merge order. */
  files: readonly string[];
  /** `TASKER__*` variables that set keys, in merge order. */
  variables: readonly string[];
  /**
   * Dotted key (leaf or table) -> file, `TASKER__*` variable or {@link OVERRIDES_SOURCE} that supplied its
   * final value.
   */
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
 * optional), then the same files of `options.overlayDir` (each optional), then `TASKER__<SECTION>__<KEY>`
 * environment variables, then `options.overrides`.
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
  overlayDir,
  overrides,
}: LoadConfigOptions = {}): LoadedConfig {
  const dir = resolveConfigDir(configDir);
  const overlay = overlayDir === undefined ? undefined : resolveConfigDir(overlayDir);
  const envName = resolveEnvironment([dir, ...(overlay ? [overlay] : [])], environment, env);
  const issues: ValidationIssue[] = [];
  const state = new MergeState();
  const files: string[] = [];

  const layers: [string, string, boolean][] = [
    [dir, 'base', true],
    [dir, envName, false],
    ...(overlay
      ? ([
          [overlay, 'base', false],
          [overlay, envName, false],
        ] as [string, string, boolean][])
      : []),
  ];
  for (const [root, layer, required] of layers) {
    for (const section of CONFIG_SECTIONS) {
      const file =
        layer === 'base'
          ? join(root, 'base', `${section}.toml`)
          : join(root, 'environments', layer, `${section}.toml`);
      if (!existsSync(file)) {
        // Only the main base files must exist: they define every key; everything else is an override.
        if (required) {
          issues.push({ path: section, message: 'base configuration file is missing', source: file });
        }
        continue;
      }
      if (mergeFile(file, section, env, state, issues)) files.push(file);
    }
  }
  const envOverrides = readEnvOverrides(env, issues);
  // Interpolation and parse problems make later schema errors noise; report them on their own.
  if (issues.length > 0) throw new ConfigError(`invalid configuration (environment '${envName}')`, issues);
  for (const o of envOverrides) state.apply(o.data, o.variable, new Set());

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
    ...(overlay ? { overlayDir: overlay } : {}),
    files,
    variables: envOverrides.map((o) => o.variable),
    sources: state.sources,
  };
}

/** Reads one TOML file of `section` and merges it into `state`; false when it could not be parsed. */
function mergeFile(
  file: string,
  section: ConfigSection,
  env: ConfigEnv,
  state: MergeState,
  issues: ValidationIssue[],
): boolean {
  const parsed = readTomlFile(file, issues);
  if (!parsed) return false;
  state.texts.set(file, parsed.text);
  const scoped = keepOwnSection(parsed.data, section, file, parsed.text, issues);
  const { data, interpolated } = interpolateTable(scoped, env, (path, message) => {
    issues.push(withLine({ path, message, source: file }, parsed.text));
  });
  state.apply(data, file, interpolated);
  return true;
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

function resolveEnvironment(dirs: readonly string[], explicit: string | undefined, env: ConfigEnv): string {
  const fromEnv = env['TASKER_ENV'];
  const name = explicit ?? (fromEnv === undefined || fromEnv === '' ? DEFAULT_ENVIRONMENT : fromEnv);
  const source = explicit !== undefined ? 'options.environment' : 'TASKER_ENV';
  const known = [...new Set(dirs.flatMap((d) => availableEnvironments(d)))];
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
