/** The `tasker` command line: every command wired into one commander program, with exit codes and errors. */
import { Command, CommanderError, Option } from 'commander';
import {
  TaskerApiError,
  TaskerForbiddenError,
  TaskerNetworkError,
  TaskerUnauthorizedError,
  TaskerValidationError,
} from '../client/index.js';
import { ErrorCode, TaskerError } from '../errors.js';
import { registerConfigCommands } from './commands/config.js';
import { runDev, type DevOptions } from './commands/dev.js';
import { registerDlqCommands } from './commands/dlq.js';
import { registerEngineCommands } from './commands/engine.js';
import { registerHealthCommand } from './commands/health.js';
import { registerStepCommands } from './commands/step.js';
import { registerTaskCommands } from './commands/task.js';
import { registerTemplateCommands } from './commands/template.js';
import { DEFAULT_API_URL } from './client-config.js';
import { globalsOf, type CliRuntime, type GlobalCliOptions } from './context.js';
import { EXIT_CODES_HELP, exitCodeFor, NotFoundError, UsageError } from './exit-codes.js';
import { formatIssues } from './format.js';
import { eprintln, printJson, processIo, type CliIo } from './io.js';
import { PACKAGE_VERSION } from '../version.js';

const SETTINGS_HELP = `
Engine settings (migrate, orchestrator, worker, dev, config): command-line flag, then environment variable
(TASKER__<SECTION>__<KEY>, e.g. TASKER__WORKER__MAX_CONCURRENT_HANDLERS=20), then --config-dir overrides, then
the shipped config files (config/tasker/base + environments/<env>).

API commands (task, step, template, dlq, health) find the API through --url / --api-key / --token, then
TASKER_URL / TASKER_API_KEY / TASKER_TOKEN, then the CLI config file (--cli-config, $TASKER_CLI_CONFIG or
~/.config/tasker/cli.toml with url, api_key, token), then ${DEFAULT_API_URL}.
--json prints machine-readable output (and errors as {"error": {...}} on standard output).`;

/** Builds the program; actions record their exit code in `runtime`. */
export function createProgram(runtime: CliRuntime): Command {
  const program = new Command();
  program
    .name('tasker')
    .description('Tasker: PostgreSQL-native workflow orchestration')
    .version(PACKAGE_VERSION, '-V, --version', 'print the installed version')
    // Usage errors must exit 2, not commander's 1, and must not kill the process from inside a library.
    .exitOverride()
    .configureOutput({ writeOut: (s) => runtime.io.out(s), writeErr: (s) => runtime.io.err(s) })
    .configureHelp({ showGlobalOptions: true })
    .showSuggestionAfterError(true)
    .addOption(
      new Option('--env <name>', 'configuration environment (test, development, production)').env(
        'TASKER_ENV',
      ),
    )
    .option(
      '--config-dir <dir>',
      'directory of overrides (base/*.toml, environments/<env>/*.toml, each optional) merged over the shipped files',
    )
    .addOption(
      new Option('--database-url <url>', 'PostgreSQL URL (overrides common.database.url)').env(
        'DATABASE_URL',
      ),
    )
    .option('--log-level <level>', 'trace, debug, info, warn, error or silent')
    .option('--url <url>', `API base URL (default ${DEFAULT_API_URL})`)
    .option('--api-key <key>', 'API key sent as X-API-Key')
    .option('--token <token>', 'bearer token sent as Authorization: Bearer')
    .option('--cli-config <file>', 'CLI config file (TOML: url, api_key, token)')
    .option('--json', 'machine-readable JSON output')
    .addHelpText('after', `${SETTINGS_HELP}\n${EXIT_CODES_HELP}`);

  registerEngineCommands(program, runtime);
  program
    .command('dev')
    .description(
      'run orchestrator + worker (+ REST API) with the example workflows on an embedded PostgreSQL',
    )
    .option('--keep-running', 'keep running after the example tasks finish')
    .option(
      '--examples <dir>',
      'your own examples: a directory with templates/, handlers.(js|ts) and dev-tasks.(js|ts)',
    )
    .option('--no-api', 'do not serve the REST API')
    .action(async (opts: Omit<DevOptions, keyof GlobalCliOptions>, cmd: Command) => {
      const code = await runDev({ ...globalsOf(cmd), ...opts });
      // --keep-running never returns; a finished run reports whether every example completed.
      runtime.exitCode = code;
    });
  registerTaskCommands(program, runtime);
  registerStepCommands(program, runtime);
  registerTemplateCommands(program, runtime);
  registerDlqCommands(program, runtime);
  registerConfigCommands(program, runtime);
  registerHealthCommand(program, runtime);
  addUsageHints(program);
  return program;
}

/** After a usage error, commander prints this below it: how to see the usage of the command that failed. */
function addUsageHints(command: Command, path: readonly string[] = []): void {
  const full = [...path, command.name()];
  command.showHelpAfterError(`hint: run '${full.join(' ')} --help' for usage`);
  for (const sub of command.commands) addUsageHints(sub, full);
}

/** What an error looks like in `--json` output. */
function errorJson(e: unknown): Record<string, unknown> {
  if (e instanceof TaskerApiError) {
    return {
      code: e.apiCode,
      message: e.message,
      status: e.status,
      ...(e.details ? { details: e.details } : {}),
    };
  }
  if (e instanceof TaskerError) {
    return { code: e.code, message: e.message, ...(e.details ? { details: e.details } : {}) };
  }
  if (e instanceof UsageError) return { code: 'USAGE', message: e.message };
  if (e instanceof NotFoundError) return { code: 'NOT_FOUND', message: e.message };
  return { code: 'INTERNAL', message: e instanceof Error ? e.message : String(e) };
}

/** Prints an error that ended a command: a readable line (or more) on stderr, and JSON on stdout with --json. */
export function printError(io: CliIo, e: unknown, json: boolean): void {
  if (json) printJson(io, { error: errorJson(e) });
  if (e instanceof TaskerApiError) {
    eprintln(io, `error [${e.apiCode}]: ${e.message}`);
    if (e instanceof TaskerValidationError && e.issues.length > 0) eprintln(io, formatIssues(e.issues));
    if (e instanceof TaskerUnauthorizedError) {
      eprintln(io, 'hint: pass --api-key (or TASKER_API_KEY) or --token (TASKER_TOKEN)');
    }
    if (e instanceof TaskerForbiddenError) {
      eprintln(io, 'hint: the credentials lack a permission this command needs');
    }
    if (e.apiCode === ErrorCode.DatabaseTimeout) {
      eprintln(
        io,
        "hint: the server's database is reachable but the statement ran past its statement timeout; " +
          'retry later, or raise common.database.statement_timeout_ms on the server',
      );
    }
    return;
  }
  if (e instanceof TaskerNetworkError) {
    eprintln(io, `error: ${e.message}`);
    eprintln(
      io,
      'hint: is the API running? Point at it with --url (or TASKER_URL, or url in the CLI config)',
    );
    return;
  }
  if (e instanceof TaskerError) {
    eprintln(io, `error [${e.code}]: ${e.message}`);
    return;
  }
  if (e instanceof UsageError || e instanceof NotFoundError) {
    eprintln(io, `error: ${e.message}`);
    if (e instanceof UsageError && e.hint !== undefined) eprintln(io, `hint: ${e.hint}`);
    return;
  }
  // Unexpected: keep the stack, it is a bug report.
  eprintln(io, e instanceof Error ? (e.stack ?? e.message) : String(e));
}

/**
 * Runs the CLI with `argv` (without the node and script paths). Returns the exit code, or undefined when the
 * command keeps running in the background (orchestrator, worker, `dev --keep-running`).
 */
export async function runCli(argv: readonly string[], io: CliIo = processIo()): Promise<number | undefined> {
  const runtime: CliRuntime = { io, exitCode: undefined };
  const program = createProgram(runtime);
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return runtime.exitCode;
  } catch (e) {
    // Commander has already printed its own usage errors.
    if (!(e instanceof CommanderError)) printError(io, e, program.opts<GlobalCliOptions>().json === true);
    return exitCodeFor(e);
  }
}
