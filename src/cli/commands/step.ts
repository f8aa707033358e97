/** `tasker step …`: the steps of a task and operator actions on them. */
import type { Command } from 'commander';
import type { ManualResult, StepActionOptions, StepBody } from '../../client/index.js';
import {
  action,
  apiContext,
  parseJsonOption,
  requireUuid,
  type ApiCommandContext,
  type CliRuntime,
} from '../context.js';
import { ExitCode, NotFoundError } from '../exit-codes.js';
import { formatStepTable } from '../format.js';
import { printJson, println } from '../io.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Finds a step by uuid or by name (names are unique within a task), so operators can type the name. */
async function findStep(ctx: ApiCommandContext, taskUuid: string, ref: string): Promise<StepBody> {
  if (UUID.test(ref)) return ctx.client.getStep(taskUuid, ref);
  const steps = await ctx.client.listSteps(taskUuid);
  const step = steps.find((s) => s.name === ref);
  if (!step) {
    throw new NotFoundError(
      `task ${taskUuid} has no step named '${ref}'; its steps: ${steps.map((s) => s.name).join(', ')}`,
    );
  }
  return step;
}

async function report(
  ctx: ApiCommandContext,
  taskUuid: string,
  step: StepBody,
  verb: string,
): Promise<number> {
  const task = await ctx.client.getTask(taskUuid);
  if (ctx.json) printJson(ctx.io, { step, task_state: task.state });
  else println(ctx.io, `step ${step.name} ${verb}: now ${step.state}; task ${taskUuid} is ${task.state}`);
  return ExitCode.Ok;
}

/** Adds `tasker step` and its subcommands. */
export function registerStepCommands(program: Command, runtime: CliRuntime): void {
  const step = program
    .command('step')
    .description('list the steps of a task; resolve, retry or re-run a step');

  step
    .command('list <task-uuid>')
    .description('the steps of a task with state, attempts and readiness')
    .action(
      action(runtime, async (taskUuid: string, _opts: unknown, cmd: Command) => {
        const ctx = apiContext(runtime, cmd);
        const steps = await ctx.client.listSteps(requireUuid(taskUuid, 'task uuid'));
        if (ctx.json) printJson(ctx.io, { items: steps });
        else println(ctx.io, formatStepTable(steps, { uuids: true, palette: ctx.palette }));
      }),
    );

  step
    .command('resolve <task-uuid> <step>')
    .description(
      'resolve a step by hand (step = uuid or name): without --complete-with it is marked resolved; with it, completed with that result. Dependents then run.',
    )
    .requiredOption('--reason <text>', 'why; recorded in the audit trail')
    .option('--complete-with <json>', 'complete the step with this JSON result instead')
    .option('--by <name>', 'who acts (default: the API principal)')
    .action(
      action(
        runtime,
        async (
          taskUuid: string,
          ref: string,
          opts: { reason: string; completeWith?: string; by?: string },
          cmd: Command,
        ) => {
          const ctx = apiContext(runtime, cmd);
          requireUuid(taskUuid, 'task uuid');
          const target = await findStep(ctx, taskUuid, ref);
          const who = { reason: opts.reason, ...(opts.by === undefined ? {} : { by: opts.by }) };
          if (opts.completeWith !== undefined) {
            const result = parseJsonOption(opts.completeWith, '--complete-with') as ManualResult;
            const done = await ctx.client.completeManually(taskUuid, target.step_uuid, result, who);
            return report(ctx, taskUuid, done, 'completed by hand');
          }
          const resolved = await ctx.client.resolveManually(taskUuid, target.step_uuid, who);
          return report(ctx, taskUuid, resolved, 'resolved by hand');
        },
      ),
    );

  registerRerunAction(step, runtime, {
    command: 'retry',
    description: 'run a failed step again from its first attempt (step = uuid or name)',
    verb: 'reset for retry',
    act: (ctx, taskUuid, stepUuid, who) => ctx.client.resetForRetry(taskUuid, stepUuid, who),
  });
  registerRerunAction(step, runtime, {
    command: 'rerun',
    description:
      'run a finished step and everything below it again (step = uuid or name); the other steps keep their results',
    verb: 're-run from here',
    act: (ctx, taskUuid, stepUuid, who) => ctx.client.rerunFrom(taskUuid, stepUuid, who),
  });
}

/** `tasker step <command> <task-uuid> <step> --reason <text> [--by <name>]`: an action that runs steps again. */
function registerRerunAction(
  step: Command,
  runtime: CliRuntime,
  spec: {
    command: string;
    description: string;
    verb: string;
    act: (
      ctx: ApiCommandContext,
      taskUuid: string,
      stepUuid: string,
      who: StepActionOptions,
    ) => Promise<StepBody>;
  },
): void {
  step
    .command(`${spec.command} <task-uuid> <step>`)
    .description(spec.description)
    .requiredOption('--reason <text>', 'why; recorded in the audit trail')
    .option('--by <name>', 'who acts (default: the API principal)')
    .action(
      action(
        runtime,
        async (taskUuid: string, ref: string, opts: { reason: string; by?: string }, cmd: Command) => {
          const ctx = apiContext(runtime, cmd);
          requireUuid(taskUuid, 'task uuid');
          const target = await findStep(ctx, taskUuid, ref);
          const who = { reason: opts.reason, ...(opts.by === undefined ? {} : { by: opts.by }) };
          return report(ctx, taskUuid, await spec.act(ctx, taskUuid, target.step_uuid, who), spec.verb);
        },
      ),
    );
}
