/** `tasker template …`: registered templates, their DAGs, and validating or registering YAML files. */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { TaskerValidationError } from '../../client/index.js';
import { templateDefinitionBody } from '../../api/views.js';
import { TemplateValidationError } from '../../errors.js';
import { parseYamlTemplate } from '../../templates/index.js';
import type { TaskTemplate } from '../../templates/types.js';
import { action, apiContext, globalsOf, type CliRuntime } from '../context.js';
import { importUserModule, isModulePath } from '../module-loader.js';
import { templatesFromModule } from '../template-sources.js';
import { drawDag } from '../dag.js';
import { ExitCode, UsageError } from '../exit-codes.js';
import { formatIssues, formatTemplateHeader, formatTemplateList, templateRef } from '../format.js';
import { printJson, println } from '../io.js';

/** Parses `namespace/name[@version]`. */
export function parseTemplateRef(ref: string): { namespace: string; name: string; version?: string } {
  const match = /^([^/@\s]+)\/([^/@\s]+)(?:@([^/@\s]+))?$/.exec(ref);
  if (!match) throw new UsageError(`expected namespace/name or namespace/name@version (got '${ref}')`);
  const [, namespace, name, version] = match;
  return { namespace: namespace!, name: name!, ...(version === undefined ? {} : { version }) };
}

function readYaml(file: string): string {
  try {
    return readFileSync(file === '-' ? 0 : file, 'utf8');
  } catch (e) {
    throw new UsageError(`cannot read ${file}: ${e instanceof Error ? e.message : String(e)}`);
  }
}

/** Adds `tasker template` and its subcommands. */
export function registerTemplateCommands(program: Command, runtime: CliRuntime): void {
  const template = program
    .command('template')
    .description('list, show, validate and register task templates');

  template
    .command('list')
    .description('every registered template version')
    .option('--namespace <ns>', 'only this namespace')
    .action(
      action(runtime, async (opts: { namespace?: string }, cmd: Command) => {
        const ctx = apiContext(runtime, cmd);
        const items = await ctx.client.listTemplates(
          opts.namespace === undefined ? {} : { namespace: opts.namespace },
        );
        if (ctx.json) printJson(ctx.io, { items });
        else println(ctx.io, formatTemplateList(items));
      }),
    );

  template
    .command('show <ref>')
    .description('a template (namespace/name[@version], default the highest version) with its steps and DAG')
    .option('--ascii', 'draw the DAG with ASCII characters only')
    .action(
      action(runtime, async (ref: string, opts: { ascii?: boolean }, cmd: Command) => {
        const ctx = apiContext(runtime, cmd);
        const { namespace, name, version } = parseTemplateRef(ref);
        const t = await ctx.client.getTemplate(namespace, name, version);
        if (ctx.json) {
          printJson(ctx.io, t);
          return;
        }
        println(ctx.io, formatTemplateHeader(t));
        println(ctx.io);
        println(ctx.io, drawDag(t.dag, { unicode: !opts.ascii }));
      }),
    );

  template
    .command('validate <file>')
    .description(
      'check a template file offline (no server): YAML, or a .js/.ts module exporting DSL templates; ' +
        'exit 1 when it is invalid',
    )
    .action(
      action(runtime, (file: string, _opts: unknown, cmd: Command) => validateLocally(runtime, cmd, file)),
    );

  template
    .command('register <file>')
    .description('register a YAML template version (exit 4 if the version exists with other content)')
    .action(
      action(runtime, async (file: string, _opts: unknown, cmd: Command) => {
        const ctx = apiContext(runtime, cmd);
        let registered;
        try {
          registered = await ctx.client.registerTemplate(readYaml(file));
        } catch (e) {
          if (!(e instanceof TaskerValidationError) || e.apiCode !== 'TEMPLATE_INVALID') throw e;
          // An invalid file is the answer to "register this", like `validate` reports it: exit 1, not 2.
          if (ctx.json) {
            printJson(ctx.io, { valid: false, message: e.message, issues: e.issues });
            return ExitCode.Failed;
          }
          println(ctx.io, `${file}: invalid template: ${e.message}`);
          if (e.issues.length > 0) println(ctx.io, formatIssues(e.issues, file));
          return ExitCode.Failed;
        }
        if (ctx.json) printJson(ctx.io, registered);
        else {
          println(
            ctx.io,
            `${registered.created ? 'registered' : 'already registered'} ${templateRef(registered.template)} (${registered.template.step_count} steps)`,
          );
        }
        return ExitCode.Ok;
      }),
    );
}

/** The templates in `file`: a YAML file (or `-` for standard input) or a module exporting DSL templates. */
async function templatesIn(file: string): Promise<TaskTemplate[]> {
  if (file !== '-' && isModulePath(file)) {
    const templates = templatesFromModule(await importUserModule(file, 'templates module'), file);
    if (templates.length === 0) {
      throw new UsageError(
        `${file} exports no templates`,
        'export the result of defineTemplate(...).build() (or an array of them)',
      );
    }
    return templates;
  }
  return [parseYamlTemplate(readYaml(file), file === '-' ? undefined : file)];
}

/** `tasker template validate`: the same checks the server makes at registration, without a server. */
async function validateLocally(runtime: CliRuntime, cmd: Command, file: string): Promise<ExitCode> {
  const { io } = runtime;
  const json = globalsOf(cmd).json === true;
  let templates: TaskTemplate[];
  try {
    templates = await templatesIn(file);
  } catch (e) {
    if (!(e instanceof TemplateValidationError)) throw e;
    const message = e.message.split('\n')[0] ?? e.message;
    if (json) {
      printJson(io, { valid: false, message, issues: e.issues });
      return ExitCode.Failed;
    }
    println(io, `${file}: invalid template: ${message}`);
    if (e.issues.length > 0) println(io, formatIssues(e.issues, file));
    return ExitCode.Failed;
  }
  const bodies = templates.map((t) => templateDefinitionBody(t));
  if (json) {
    printJson(
      io,
      bodies.length === 1 ? { valid: true, template: bodies[0] } : { valid: true, templates: bodies },
    );
    return ExitCode.Ok;
  }
  for (const t of bodies) {
    println(io, `${file}: valid (${templateRef(t)}, ${t.steps.length} steps)`);
    println(io, drawDag(t.dag));
  }
  return ExitCode.Ok;
}
