/** `tasker dlq …`: the dead-letter queue of failed tasks. */
import type { Command } from 'commander';
import type { DlqListQuery } from '../../client/index.js';
import {
  DLQ_REASONS,
  DLQ_RESOLUTION_STATUSES,
  type DlqReason,
  type DlqResolutionStatus,
} from '../../contract/names.js';
import {
  action,
  apiContext,
  parseIntOption,
  printListing,
  requireUuid,
  type CliRuntime,
} from '../context.js';
import { UsageError } from '../exit-codes.js';
import { formatDlqEntry, formatDlqList } from '../format.js';
import { printJson, println } from '../io.js';

function oneOf<T extends string>(value: string, allowed: readonly T[], option: string): T {
  if (!(allowed as readonly string[]).includes(value)) {
    throw new UsageError(`${option} must be one of ${allowed.join(', ')} (got '${value}')`);
  }
  return value as T;
}

/** Adds `tasker dlq` and its subcommands. */
export function registerDlqCommands(program: Command, runtime: CliRuntime): void {
  const dlq = program
    .command('dlq')
    .description('the dead-letter queue: tasks that failed and need an operator');

  dlq
    .command('list')
    .description('dead-letter entries, newest first')
    .option('--status <status>', `only this resolution status (${DLQ_RESOLUTION_STATUSES.join(', ')})`)
    .option('--reason <reason>', `only this reason (${DLQ_REASONS.join(', ')})`)
    .option('--limit <n>', 'page size, 1..200', '50')
    .option('--cursor <cursor>', 'continue after a previous page')
    .option('--all', 'fetch every page')
    .action(
      action(
        runtime,
        async (
          opts: { status?: string; reason?: string; limit: string; cursor?: string; all?: boolean },
          cmd: Command,
        ) => {
          const ctx = apiContext(runtime, cmd);
          const query: DlqListQuery = {
            limit: parseIntOption(opts.limit, '--limit', 1, 200),
            ...(opts.status === undefined
              ? {}
              : {
                  resolution_status: oneOf<DlqResolutionStatus>(
                    opts.status,
                    DLQ_RESOLUTION_STATUSES,
                    '--status',
                  ),
                }),
            ...(opts.reason === undefined
              ? {}
              : { reason: oneOf<DlqReason>(opts.reason, DLQ_REASONS, '--reason') }),
            ...(opts.cursor === undefined ? {} : { cursor: opts.cursor }),
          };
          await printListing(
            ctx,
            { ...(opts.all === undefined ? {} : { all: opts.all }), noun: 'entries' },
            { page: () => ctx.client.listDlq(query), iterate: () => ctx.client.iterateDlq(query) },
            formatDlqList,
          );
        },
      ),
    );

  dlq
    .command('show <entry-uuid>')
    .description('one dead-letter entry with the task snapshot taken when it failed')
    .action(
      action(runtime, async (entry: string, _opts: unknown, cmd: Command) => {
        const ctx = apiContext(runtime, cmd);
        const got = await ctx.client.getDlq(requireUuid(entry, 'entry uuid'));
        if (ctx.json) printJson(ctx.io, got);
        else println(ctx.io, formatDlqEntry(got));
      }),
    );

  dlq
    .command('resolve <entry-uuid>')
    .description('set the resolution of a dead-letter entry')
    .requiredOption('--status <status>', `new resolution status (${DLQ_RESOLUTION_STATUSES.join(', ')})`)
    .option('--notes <text>', 'resolution notes')
    .option('--by <name>', 'who resolved it (default: the API principal)')
    .action(
      action(
        runtime,
        async (entry: string, opts: { status: string; notes?: string; by?: string }, cmd: Command) => {
          const ctx = apiContext(runtime, cmd);
          const updated = await ctx.client.updateDlq(requireUuid(entry, 'entry uuid'), {
            resolution_status: oneOf<DlqResolutionStatus>(opts.status, DLQ_RESOLUTION_STATUSES, '--status'),
            ...(opts.notes === undefined ? {} : { resolution_notes: opts.notes }),
            ...(opts.by === undefined ? {} : { resolved_by: opts.by }),
          });
          if (ctx.json) printJson(ctx.io, updated);
          else println(ctx.io, `entry ${updated.dlq_entry_uuid} ${updated.resolution_status}`);
        },
      ),
    );
}
