/**
 * Where API-talking commands find the API URL and credentials. Precedence, per setting: command-line flag,
 * then environment variable, then the CLI config file, then the default.
 *
 * The CLI config file is `--cli-config`, else `$TASKER_CLI_CONFIG`, else `~/.config/tasker/cli.toml`
 * (`$XDG_CONFIG_HOME/tasker/cli.toml` when set). It is TOML with `url`, `api_key` and `token`; a missing
 * default file is fine, a missing named file is an error.
 */
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { parse as parseToml } from 'smol-toml';
import { UsageError } from './exit-codes.js';

/** The API URL used when nothing else names one. */
export const DEFAULT_API_URL = 'http://127.0.0.1:8080';

/** Flags of the API-talking commands. */
export interface ClientFlags {
  url?: string;
  apiKey?: string;
  token?: string;
  cliConfig?: string;
}

/** Where a setting came from. */
export type SettingSource = 'flag' | 'env' | 'file' | 'default';

/** Resolved connection settings. */
export interface ClientSettings {
  url: string;
  apiKey: string | undefined;
  token: string | undefined;
  /** The config file that was read, if any. */
  file: string | undefined;
  sources: { url: SettingSource; apiKey: SettingSource | undefined; token: SettingSource | undefined };
}

interface FileSettings {
  url?: string;
  api_key?: string;
  token?: string;
}

/** The default CLI config file path. */
export function defaultCliConfigPath(env: NodeJS.ProcessEnv, home: string = homedir()): string {
  const base =
    env.XDG_CONFIG_HOME && env.XDG_CONFIG_HOME !== '' ? env.XDG_CONFIG_HOME : join(home, '.config');
  return join(base, 'tasker', 'cli.toml');
}

function readCliConfig(path: string): FileSettings {
  let data: Record<string, unknown>;
  try {
    data = parseToml(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new UsageError(`cannot read CLI config ${path}: ${e instanceof Error ? e.message : String(e)}`);
  }
  const out: FileSettings = {};
  for (const [key, value] of Object.entries(data)) {
    if (key !== 'url' && key !== 'api_key' && key !== 'token') {
      throw new UsageError(`${path}: unknown key '${key}' (expected url, api_key, token)`);
    }
    if (typeof value !== 'string') throw new UsageError(`${path}: ${key} must be a string`);
    out[key] = value;
  }
  return out;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}

/** Applies the precedence rules. */
export function resolveClientSettings(
  flags: ClientFlags,
  env: NodeJS.ProcessEnv,
  home: string = homedir(),
): ClientSettings {
  const named = nonEmpty(flags.cliConfig) ?? nonEmpty(env.TASKER_CLI_CONFIG);
  const path = named ?? defaultCliConfigPath(env, home);
  let file: FileSettings = {};
  let fileRead: string | undefined;
  if (existsSync(path)) {
    file = readCliConfig(path);
    fileRead = path;
  } else if (named !== undefined) {
    throw new UsageError(`CLI config file not found: ${path}`);
  }

  const pick = (
    flag: string | undefined,
    envValue: string | undefined,
    fileValue: string | undefined,
  ): [string | undefined, SettingSource | undefined] => {
    if (nonEmpty(flag) !== undefined) return [flag, 'flag'];
    if (nonEmpty(envValue) !== undefined) return [envValue, 'env'];
    if (nonEmpty(fileValue) !== undefined) return [fileValue, 'file'];
    return [undefined, undefined];
  };
  const [url, urlSource] = pick(flags.url, env.TASKER_URL, file.url);
  const [apiKey, apiKeySource] = pick(flags.apiKey, env.TASKER_API_KEY, file.api_key);
  const [token, tokenSource] = pick(flags.token, env.TASKER_TOKEN, file.token);
  const finalUrl = url ?? DEFAULT_API_URL;
  try {
    const parsed = new URL(finalUrl);
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new Error('not http(s)');
  } catch {
    throw new UsageError(`API URL must be an http(s) URL (got '${finalUrl}' from ${urlSource ?? 'default'})`);
  }
  return {
    url: finalUrl,
    apiKey,
    token,
    file: fileRead,
    sources: { url: urlSource ?? 'default', apiKey: apiKeySource, token: tokenSource },
  };
}
