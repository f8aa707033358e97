/** `tasker task …`: create, read, list, cancel and wait for tasks through the REST API. */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import {
  TaskerTimeoutError,
  type CreateTaskBody,
  type TaskBody,
  type TaskListQuery,
  type TaskStateName,
} from '../../client/index.js';
import { TASK_STATES } from '../../state/index.js';
import {
  action,
  apiContext,
  parseIntOption,
  parseJsonOption,
  printListing,
  requireUuid,
  type ApiCommandContext,
  type CliRuntime,
} from '../context.js';
import { ExitCode, UsageError } from '../exit-codes.js';
import {
  formatTask,
  formatTaskList,
  formatTaskOutcome,
  formatTransition,
  templateRef,
  formatStepError,
} from '../format.js';
import { printJson, println } from '../io.js';
import { CLEAR_LINE, TaskProgress } from '../progress.js';

/** Step states reached by a failed attempt (the stream shows them once per failure). */
const FAILURE_STATES: ReadonlySet<string> = new Set(['error', 'waiting_for_retry']);
/** Task states a wait counts as success. */
const SUCCESS_STATES: ReadonlySet<string> = new Set(['complete', 'resolved_manually']);

/** Collects a repeatable option into an array. */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

function readContext(opts: { context?: string; contextFile?: string }): Record<string, unknown> {
  if (opts.context !== undefined && opts.contextFile !== undefined) {
    throw new UsageError('give either --context or --context-file, not both');
  }
  let value: unknown = {};
  if (opts.context !== undefined) value = parseJsonOption(opts.context, '--context');
  if (opts.contextFile !== undefined) {
    let text: string;
    try {
      // `-` reads the context from standard input, so it can be piped in.
      text = readFileSync(opts.contextFile === '-' ? 0 : opts.contextFile, 'utf8');
    } catch (e) {
      throw new UsageError(
        `cannot read --context-file ${opts.contextFile}: ${e instanceof Error ? e.message : String(e)}`,
      );
    }
    value = parseJsonOption(text, `--context-file ${opts.contextFile}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new UsageError('the task context must be a JSON object, e.g. --context \'{"order_id": 1}\'');
  }
  return value as Record<string, unknown>;
}

function parseStates(value: string): TaskStateName[] {
  const states = value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const bad = states.filter((s) => !(TASK_STATES as readonly string[]).includes(s));
  if (bad.length > 0) {
    throw new UsageError(`unknown task state(s): ${bad.join(', ')}; known: ${TASK_STATES.join(', ')}`);
  }
  return states as TaskStateName[];
}

function timeoutMsOf(timeout: string | undefined): number | undefined {
  return timeout === undefined ? undefined : parseIntOption(timeout, '--timeout', 1, 7 * 24 * 3600) * 1000;
}

/**
 * Waits for a task and reports as it goes: a live progress bar on a terminal, one line per transition
 * otherwise, the final task as JSON with `--json`. Returns the exit code: 0 when the task completed (or was
 * resolved by hand), 1 when it ended in error, was cancelled, or the timeout passed.
 */
export async function waitAndReport(
  ctx: ApiCommandContext,
  taskUuid: string,
  options: { timeoutMs?: number; onFinished?: (task: TaskBody) => void } = {},
): Promise<number> {
  const { client, io, json } = ctx;
  const initial = await client.getTask(taskUuid);
  const progress = new TaskProgress(initial);
  const live = io.isTTY && !json;
  let drawn = '';
  const draw = (force = false): void => {
    const line = progress.render(io.columns);
    // Redraw only when the line changes: most transitions (enqueue, hand-offs) do not move the bar.
    if (line === drawn && !force) return;
    drawn = line;
    io.out(`${CLEAR_LINE}${line}`);
  };
  if (!json) {
    println(io, `waiting for task ${taskUuid} (${templateRef(initial)}, ${initial.steps_total} steps)`);
  }
  if (live) draw();

  let final: TaskBody;
  try {
    final = await client.waitForTask(taskUuid, {
      ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
      onTransition: async (t) => {
        progress.apply(t);
        if (json) return;
        const failed = t.entity === 'step' && t.step_uuid !== null && FAILURE_STATES.has(t.to_state);
        // Transitions do not carry the error; the step does (one extra read per failed attempt only).
        const why = failed ? formatStepError((await client.getStep(taskUuid, t.step_uuid ?? '')).error) : '';
        if (!live) {
          println(io, formatTransition(t, why));
          return;
        }
        // Failed attempts are worth keeping on screen; everything else only moves the bar.
        if (failed) {
          const what = t.to_state === 'error' ? 'failed' : 'failed, will retry';
          io.out(`${CLEAR_LINE}step ${t.step_name ?? '?'} ${what}${why ? `: ${why}` : ''}\n`);
        }
        draw(failed);
      },
    });
  } catch (e) {
    if (live) io.out(CLEAR_LINE);
    if (!(e instanceof TaskerTimeoutError)) throw e;
    const now = await client.getTask(taskUuid);
    if (json) printJson(io, now);
    else println(io, `timed out after ${(options.timeoutMs ?? 0) / 1000}s: task ${taskUuid} is ${now.state}`);
    return ExitCode.Failed;
  }
  if (live) io.out(CLEAR_LINE);
  if (options.onFinished) options.onFinished(final);
  else if (json) printJson(io, final);
  if (!json) println(io, formatTaskOutcome(final));
  return SUCCESS_STATES.has(final.state) ? ExitCode.Ok : ExitCode.Failed;
}

/** Options of `tasker task create`. */
interface CreateOptions {
  version?: string;
  context?: string;
  contextFile?: string;
  tag?: string[];
  priority?: string;
  idempotencyKey?: string;
  reason?: string;
  wait?: boolean;
  timeout?: string;
}

/** `tasker task create`: creates the task, and with `--wait` follows it to the end. */
async function createCommand(
  runtime: CliRuntime,
  namespace: string,
  name: string,
  opts: CreateOptions,
  cmd: Command,
): Promise<number> {
  const ctx = apiContext(runtime, cmd);
  const body: CreateTaskBody = {
    namespace,
    name,
    context: readContext(opts),
    ...(opts.version === undefined ? {} : { version: opts.version }),
    ...(opts.tag === undefined ? {} : { tags: opts.tag }),
    ...(opts.priority === undefined
      ? {}
      : { priority: parseIntOption(opts.priority, '--priority', -100, 100) }),
    ...(opts.idempotencyKey === undefined ? {} : { idempotency_key: opts.idempotencyKey }),
    ...(opts.reason === undefined ? {} : { reason: opts.reason }),
  };
  const timeoutMs = timeoutMsOf(opts.timeout);
  const { task: created, created: isNew } = await ctx.client.createTask(body);
  if (!opts.wait) {
    if (ctx.json) printJson(ctx.io, { created: isNew, task: created });
    else {
      println(
        ctx.io,
        `${isNew ? 'created' : 'found existing'} task ${created.task_uuid} (${templateRef(created)}, ${created.steps_total} steps, ${created.state})`,
      );
    }
    return ExitCode.Ok;
  }
  if (!ctx.json) println(ctx.io, `${isNew ? 'created' : 'found existing'} task ${created.task_uuid}`);
  return waitAndReport(ctx, created.task_uuid, {
    ...(timeoutMs === undefined ? {} : { timeoutMs }),
    onFinished: (final) => {
      if (ctx.json) printJson(ctx.io, { created: isNew, task: final });
    },
  });
}

/** Options of `tasker task list`. */
interface ListOptions {
  namespace?: string;
  name?: string;
  version?: string;
  state?: string;
  tag?: string[];
  limit: string;
  cursor?: string;
  all?: boolean;
}

/** `tasker task list`: one page, or with `--all` every page. */
async function listCommand(runtime: CliRuntime, opts: ListOptions, cmd: Command): Promise<void> {
  const ctx = apiContext(runtime, cmd);
  const query: TaskListQuery = {
    limit: parseIntOption(opts.limit, '--limit', 1, 200),
    ...(opts.namespace === undefined ? {} : { namespace: opts.namespace }),
    ...(opts.name === undefined ? {} : { name: opts.name }),
    ...(opts.version === undefined ? {} : { version: opts.version }),
    ...(opts.state === undefined ? {} : { state: parseStates(opts.state) }),
    ...(opts.tag === undefined ? {} : { tag: opts.tag }),
    ...(opts.cursor === undefined ? {} : { cursor: opts.cursor }),
  };
  await printListing(
    ctx,
    { ...(opts.all === undefined ? {} : { all: opts.all }), noun: 'tasks' },
    { page: () => ctx.client.listTasks(query), iterate: () => ctx.client.iterateTasks(query) },
    formatTaskList,
  );
}

/** Adds `tasker task` and its subcommands. */
export function registerTaskCommands(program: Command, runtime: CliRuntime): void {
  const task = program.command('task').description('create, inspect, list, cancel and wait for tasks');

  task
    .command('create <namespace> <name>')
    .description('create a task from a registered template')
    .option('--version <version>', 'template version (default: the highest registered)')
    .option('--context <json>', 'task context as a JSON object (default {})')
    .option('--context-file <file>', 'read the context from a JSON file (- for standard input)')
    .option('--tag <tag>', 'tag the task (repeatable)', collect)
    .option('--priority <n>', 'priority from -100 to 100')
    .option('--idempotency-key <key>', 'repeat-safe identity: the same key returns the same task')
    .option('--reason <text>', 'why the task is created (recorded with it)')
    .option('--wait', 'wait for the task to finish (exit 1 if it fails)')
    .option('--timeout <seconds>', 'with --wait: give up after this many seconds')
    .action(
      action(runtime, (namespace: string, name: string, opts: CreateOptions, cmd: Command) =>
        createCommand(runtime, namespace, name, opts, cmd),
      ),
    );

  task
    .command('get <task-uuid>')
    .description('show a task and its steps')
    .action(
      action(runtime, async (taskUuid: string, _opts: unknown, cmd: Command) => {
        const ctx = apiContext(runtime, cmd);
        const got = await ctx.client.getTask(requireUuid(taskUuid, 'task uuid'));
        if (ctx.json) printJson(ctx.io, got);
        else println(ctx.io, formatTask(got, ctx.palette));
      }),
    );

  task
    .command('list')
    .description('list tasks, newest first')
    .option('--namespace <ns>', 'only this namespace')
    .option('--name <name>', 'only this template name')
    .option('--version <version>', 'only this template version')
    .option('--state <states>', 'only these states, comma-separated (e.g. error,cancelled)')
    .option('--tag <tag>', 'only tasks with this tag (repeatable: all must match)', collect)
    .option('--limit <n>', 'page size, 1..200', '50')
    .option('--cursor <cursor>', 'continue after a previous page')
    .option('--all', 'fetch every page')
    .action(action(runtime, (opts: ListOptions, cmd: Command) => listCommand(runtime, opts, cmd)));

  task
    .command('cancel <task-uuid>')
    .description('cancel a task (exit 4 if it already finished)')
    .option('--reason <text>', 'why; recorded in the audit trail')
    .action(
      action(runtime, async (taskUuid: string, opts: { reason?: string }, cmd: Command) => {
        const ctx = apiContext(runtime, cmd);
        const cancelled = await ctx.client.cancelTask(requireUuid(taskUuid, 'task uuid'), {
          ...(opts.reason === undefined ? {} : { reason: opts.reason }),
        });
        if (ctx.json) printJson(ctx.io, cancelled);
        else println(ctx.io, `task ${cancelled.task_uuid} ${cancelled.state}`);
      }),
    );

  task
    .command('wait <task-uuid>')
    .description(
      'wait for a task to finish, showing its progress; exit 0 if it completed, 1 if it failed, was cancelled or --timeout passed',
    )
    .option('--timeout <seconds>', 'give up after this many seconds')
    .action(
      action(runtime, async (taskUuid: string, opts: { timeout?: string }, cmd: Command) => {
        const ctx = apiContext(runtime, cmd);
        const timeoutMs = timeoutMsOf(opts.timeout);
        return waitAndReport(
          ctx,
          requireUuid(taskUuid, 'task uuid'),
          timeoutMs === undefined ? {} : { timeoutMs },
        );
      }),
    );
}
