/** `tasker config …`: validate and show the local configuration (no API involved). */
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { stringify as toToml } from 'smol-toml';
import { loadConfigDetailed, type LoadedConfig } from '../../config/index.js';
import { ConfigError } from '../../errors.js';
import { action, globalsOf, type CliRuntime } from '../context.js';
import { ExitCode } from '../exit-codes.js';
import { eprintln, printJson, println } from '../io.js';

const MASK = '********';
/** Keys whose values are credentials. */
const SECRET_KEY = /(^|_)(key|secret|password|token)$/i;

/** Replaces credentials with a mask: secret-named keys, and passwords inside URLs. */
export function maskSecrets(value: unknown, key = ''): unknown {
  if (Array.isArray(value)) return value.map((v) => maskSecrets(v, key));
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, maskSecrets(v, k)]));
  }
  if (typeof value !== 'string' || value === '') return value;
  if (SECRET_KEY.test(key)) return MASK;
  return maskUrlPassword(value);
}

function maskUrlPassword(text: string): string {
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(text)) return text;
  try {
    const url = new URL(text);
    if (url.password === '') return text;
    url.password = MASK;
    return url.toString();
  } catch {
    return text;
  }
}

function load(command: Command): LoadedConfig {
  const globals = globalsOf(command);
  const env: Record<string, string | undefined> = { ...process.env };
  if (globals.databaseUrl) env.DATABASE_URL = globals.databaseUrl;
  return loadConfigDetailed({
    env,
    ...(globals.env ? { environment: globals.env } : {}),
    ...(globals.configDir ? { configDir: resolve(globals.configDir) } : {}),
  });
}

/** Adds `tasker config` and its subcommands. */
export function registerConfigCommands(program: Command, runtime: CliRuntime): void {
  const config = program
    .command('config')
    .description(
      'validate or show the configuration of this machine (use the global --env and --config-dir)',
    );

  config
    .command('validate')
    .description(
      'load and check the configuration; print every problem with its key and file (exit 2 if any)',
    )
    .action(
      action(runtime, (_opts: unknown, cmd: Command) => {
        const { io } = runtime;
        const json = globalsOf(cmd).json === true;
        let loaded: LoadedConfig;
        try {
          loaded = load(cmd);
        } catch (e) {
          if (!(e instanceof ConfigError)) throw e;
          if (json) {
            printJson(io, { valid: false, message: e.message.split('\n')[0], issues: e.issues });
          } else {
            eprintln(io, `invalid configuration: ${e.issues.length} problem(s)`);
            for (const i of e.issues) {
              const where = i.source ? ` (${i.source}${i.line ? `:${i.line}` : ''})` : '';
              println(io, `${i.path || '<root>'}: ${i.message}${where}`);
            }
            if (e.issues.length === 0) println(io, e.message);
          }
          return ExitCode.Usage;
        }
        if (json) {
          printJson(io, {
            valid: true,
            environment: loaded.environment,
            config_dir: loaded.configDir,
            files: loaded.files,
          });
        } else {
          println(
            io,
            `configuration valid (environment ${loaded.environment}, ${loaded.files.length} files)`,
          );
          for (const f of loaded.files) println(io, `  ${f}`);
        }
        return ExitCode.Ok;
      }),
    );

  config
    .command('show')
    .description('print the merged configuration (TOML, or JSON with --json) with secrets masked')
    .action(
      action(runtime, (_opts: unknown, cmd: Command) => {
        const loaded = load(cmd);
        const masked = maskSecrets(loaded.config) as Record<string, unknown>;
        if (globalsOf(cmd).json === true) {
          printJson(runtime.io, { environment: loaded.environment, files: loaded.files, config: masked });
          return;
        }
        println(runtime.io, `# environment: ${loaded.environment}`);
        for (const f of loaded.files) println(runtime.io, `# from: ${f}`);
        println(runtime.io, toToml(masked));
      }),
    );
}
