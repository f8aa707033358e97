/** `tasker config …`: validate and show the local configuration (no API involved). */
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { stringify as toToml } from 'smol-toml';
import { deploymentIssues, loadConfigDetailed, type LoadedConfig } from '../../config/index.js';
import type { ValidationIssue } from '../../errors.js';
import { ConfigError } from '../../errors.js';
import { action, globalsOf, type CliRuntime } from '../context.js';
import { ExitCode } from '../exit-codes.js';
import { eprintln, printJson, println, type CliIo } from '../io.js';

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
    ...(globals.configDir ? { overlayDir: resolve(globals.configDir) } : {}),
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
      'load and check the configuration; print every problem with its key and file or variable (exit 2 if ' +
        'it does not load, 1 if it loads but cannot work, e.g. authentication on without any credentials)',
    )
    .action(action(runtime, (_opts: unknown, cmd: Command) => validate(runtime, cmd)));

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

function printIssues(io: CliIo, issues: readonly ValidationIssue[]): void {
  for (const i of issues) {
    const where = i.source ? ` (${i.source}${i.line ? `:${i.line}` : ''})` : '';
    println(io, `${i.path || '<root>'}: ${i.message}${where}`);
  }
}

/** `tasker config validate`. */
function validate(runtime: CliRuntime, cmd: Command): ExitCode {
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
      printIssues(io, e.issues);
      if (e.issues.length === 0) println(io, e.message);
    }
    return ExitCode.Usage;
  }
  const problems = deploymentIssues(loaded.config);
  const sources = [...loaded.files, ...loaded.variables];
  if (json) {
    printJson(io, {
      valid: problems.length === 0,
      environment: loaded.environment,
      config_dir: loaded.configDir,
      ...(loaded.overlayDir ? { overlay_dir: loaded.overlayDir } : {}),
      files: loaded.files,
      variables: loaded.variables,
      ...(problems.length > 0 ? { issues: problems } : {}),
    });
    return problems.length === 0 ? ExitCode.Ok : ExitCode.Failed;
  }
  if (problems.length > 0) {
    eprintln(io, `configuration loads but cannot work (environment ${loaded.environment}):`);
    printIssues(io, problems);
    return ExitCode.Failed;
  }
  println(io, `configuration valid (environment ${loaded.environment}, ${sources.length} sources)`);
  for (const f of sources) println(io, `  ${f}`);
  return ExitCode.Ok;
}
