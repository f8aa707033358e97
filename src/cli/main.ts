import { Command, Option } from 'commander';
import { createPool } from '../db/pool.js';
import { migrate } from '../db/migrate.js';
import { TaskerError } from '../errors.js';
import { createOrchestrator } from '../orchestration/orchestrator.js';
import { createWorker } from '../worker/worker.js';
import {
  configFromOptions,
  loadHandlers,
  loadTemplates,
  loggerFor,
  onShutdownSignal,
  type GlobalOptions,
} from './common.js';
import { runDev, type DevOptions } from './dev.js';

const program = new Command();
program
  .name('tasker')
  .description('Tasker: PostgreSQL-native workflow orchestration')
  .addOption(
    new Option('--env <name>', 'configuration environment (test, development, production)').env('TASKER_ENV'),
  )
  .option('--config-dir <dir>', 'configuration directory holding base/ and environments/')
  .addOption(
    new Option('--database-url <url>', 'PostgreSQL URL (overrides common.database.url)').env('DATABASE_URL'),
  )
  .option('--log-level <level>', 'trace, debug, info, warn, error or silent')
  .addHelpText(
    'after',
    '\nSettings precedence: command-line flag, then environment variable, then config file, then default.',
  );

function globals(): GlobalOptions {
  return program.opts<GlobalOptions>();
}

program
  .command('migrate')
  .description('apply database migrations (safe to run from many processes at once)')
  .action(async () => {
    const config = configFromOptions(globals());
    const logger = loggerFor(config, globals(), 'tasker-migrate');
    const pool = createPool({
      url: config.common.database.url,
      maxConnections: 1,
      idleTimeoutMs: 1000,
      acquireTimeoutMs: config.common.database.pool.acquire_timeout_ms,
      statementTimeoutMs: 0,
      applicationName: 'tasker-migrate',
    });
    try {
      const result = await migrate(pool, { logger });
      console.log(`applied ${result.applied.length} migration(s); ${result.alreadyApplied} already applied`);
    } finally {
      await pool.end();
    }
  });

program
  .command('orchestrator')
  .description('run an orchestrator until SIGINT/SIGTERM')
  .option('--templates <dir>', 'register every template (*.yml, *.yaml) in this directory at start-up')
  .action(async (opts: { templates?: string }) => {
    const config = configFromOptions(globals());
    const logger = loggerFor(config, globals(), 'tasker-orchestrator');
    const orchestrator = createOrchestrator({ config, logger });
    for (const t of await loadTemplates(opts.templates)) await orchestrator.registerTemplate(t);
    await orchestrator.start();
    onShutdownSignal(() => orchestrator.stop(), logger);
  });

program
  .command('worker')
  .description('run a worker until SIGINT/SIGTERM')
  .requiredOption('--handlers <file>', 'module exporting handlers made with defineHandler (.ts or .js)')
  .option('--templates <dir>', 'register these templates and serve their namespaces')
  .option('--namespace <ns...>', 'namespaces to serve (default: those of --templates)')
  .action(async (opts: { handlers: string; templates?: string; namespace?: string[] }) => {
    const config = configFromOptions(globals());
    const logger = loggerFor(config, globals(), 'tasker-worker');
    const worker = createWorker({
      config,
      logger,
      handlers: await loadHandlers(opts.handlers),
      templates: await loadTemplates(opts.templates),
      ...(opts.namespace ? { namespaces: opts.namespace } : {}),
    });
    await worker.start();
    onShutdownSignal(() => worker.stop(), logger);
  });

program
  .command('dev')
  .description('run orchestrator + worker with the example workflows on an embedded PostgreSQL')
  .option('--keep-running', 'keep running after the example tasks finish')
  .option('--examples <dir>', 'directory with templates/, handlers.ts and dev-tasks.ts')
  .action(async (opts: Omit<DevOptions, keyof GlobalOptions>) => {
    process.exitCode = await runDev({ ...globals(), ...opts });
  });

try {
  await program.parseAsync(process.argv);
} catch (e) {
  if (e instanceof TaskerError) {
    console.error(`error [${e.code}]: ${e.message}`);
    process.exit(2);
  }
  console.error(e instanceof Error ? (e.stack ?? e.message) : String(e));
  process.exit(1);
}
