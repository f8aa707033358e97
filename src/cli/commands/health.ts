/** `tasker health`: the API's detailed health report. */
import type { Command } from 'commander';
import { action, apiContext, type CliRuntime } from '../context.js';
import { ExitCode } from '../exit-codes.js';
import { formatHealth } from '../format.js';
import { printJson, println } from '../io.js';

/** Adds `tasker health`. */
export function registerHealthCommand(program: Command, runtime: CliRuntime): void {
  program
    .command('health')
    .description('check the API: exit 0 healthy, 1 degraded or unhealthy, 2 unreachable')
    .action(
      action(runtime, async (_opts: unknown, cmd: Command) => {
        const ctx = apiContext(runtime, cmd);
        const health = await ctx.client.health();
        if (ctx.json) printJson(ctx.io, health);
        else println(ctx.io, formatHealth(health, ctx.settings.url));
        return health.status === 'healthy' ? ExitCode.Ok : ExitCode.Failed;
      }),
    );
}
