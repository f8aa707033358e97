import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiServer, type ApiServer } from '../../src/api/index.js';
import type { DlqListBody, StepBody, TaskBody, TaskListBody } from '../../src/client/index.js';
import { PermanentError } from '../../src/errors.js';
import { defineTemplate } from '../../src/templates/index.js';
import { defineHandler } from '../../src/worker/handler.js';
import { closedPort } from '../client/proxy.js';
import { startStack, type Stack } from '../client/helpers.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { testConfig } from '../support/engine.js';
import { resolveClientSettings } from '../../src/cli/client-config.js';
import { waitAndReport } from '../../src/cli/commands/task.js';
import type { CliIo } from '../../src/cli/io.js';
import { CLEAR_LINE } from '../../src/cli/progress.js';
import { TaskerClient } from '../../src/client/index.js';
import { isolatedHome, json, root, tasker } from './run.js';

const ns = 'cli_e2e';
const linear = defineTemplate({ namespace: ns, name: 'linear', version: '1.0.0' })
  .step('fetch', { handler: 'ok' })
  .step('transform', { handler: 'ok', dependsOn: ['fetch'] })
  .step('store', { handler: 'ok', dependsOn: ['transform'] })
  .build();
const fragile = defineTemplate({ namespace: ns, name: 'fragile', version: '1.0.0' })
  .step('first', { handler: 'ok' })
  .step('flaky', { handler: 'flaky', dependsOn: ['first'], retry: { maxAttempts: 1 } })
  .step('last', { handler: 'echo', dependsOn: ['flaky'] })
  .build();
const slow = defineTemplate({ namespace: ns, name: 'slow', version: '1.0.0' })
  .step('waits', { handler: 'waits' })
  .build();

const handlers = [
  defineHandler('ok', () => ({ ok: true })),
  defineHandler('flaky', () => {
    throw new PermanentError('upstream said no', { code: 'UPSTREAM' });
  }),
  defineHandler('echo', (ctx) => ({ saw: ctx.dependencyResults.flaky ?? null })),
  defineHandler(
    'waits',
    (ctx) =>
      new Promise((_, reject) => ctx.signal.addEventListener('abort', () => reject(new Error('aborted')))),
  ),
];

const dir = mkdtempSync(join(tmpdir(), 'tasker-cli-'));
const brokenYaml = join(dir, 'broken.yaml');
writeFileSync(
  brokenYaml,
  [
    'name: broken',
    `namespace_name: ${ns}`,
    'version: 1.0.0',
    'steps:',
    '  - name: one',
    '    handler: { callable: ok }',
    '  - name: two',
    '    handler: { callable: ok }',
    '    depends_on: [nowhere]',
    '',
  ].join('\n'),
);
const validYaml = join(dir, 'valid.yaml');
writeFileSync(
  validYaml,
  [
    'name: diamond',
    `namespace_name: ${ns}`,
    'version: 1.0.0',
    'steps:',
    '  - { name: start, handler: { callable: ok } }',
    '  - { name: left, handler: { callable: ok }, depends_on: [start] }',
    '  - { name: right, handler: { callable: ok }, depends_on: [start] }',
    '  - { name: end, handler: { callable: ok }, depends_on: [left, right] }',
    '',
  ].join('\n'),
);

describe('tasker CLI against a running API', () => {
  let db: TestDatabase;
  let stack: Stack;
  let env: Record<string, string>;

  beforeAll(async () => {
    db = await createTestDatabase();
    stack = await startStack(db, { templates: [linear, fragile, slow], handlers });
    env = { TASKER_URL: stack.url };
  });
  afterAll(async () => {
    await stack?.stop();
    await db?.drop();
  });

  it('task create --wait prints one line per transition and exits 0 when the task completes', async () => {
    const res = await tasker(
      ['task', 'create', ns, 'linear', '--context', '{"n": 1}', '--tag', 'cli', '--wait'],
      env,
    );
    expect(res.code, res.stderr).toBe(0);
    expect(res.stdout).toMatch(/^created task [0-9a-f-]{36}$/m);
    expect(res.stdout).toMatch(/step transform {2}enqueued -> in_progress {2}\[Start\]/);
    expect(res.stdout).toMatch(/task {2}evaluating_results -> complete/);
    expect(res.stdout).toMatch(/^task [0-9a-f-]{36} complete in .+ \(3\/3 steps done\)$/m);
  });

  it('--json output parses: create, get, list, wait', async () => {
    const created = json<{ created: boolean; task: TaskBody }>(
      await tasker(['task', 'create', ns, 'linear', '--json', '--tag', 'json-run', '--priority', '7'], env),
    );
    expect(created.created).toBe(true);
    expect(created.task.priority).toBe(7);
    const uuid = created.task.task_uuid;
    const waited = await tasker(['task', 'wait', uuid, '--json'], env);
    expect(waited.code).toBe(0);
    expect(json<TaskBody>(waited).state).toBe('complete');
    const got = json<TaskBody>(await tasker(['--json', 'task', 'get', uuid], env));
    expect(got.steps.map((s) => s.name)).toEqual(['fetch', 'transform', 'store']);
    const listed = json<TaskListBody>(await tasker(['task', 'list', '--tag', 'json-run', '--json'], env));
    expect(listed.items.map((t) => t.task_uuid)).toEqual([uuid]);
    expect(listed.next_cursor).toBeNull();
  });

  it('on a terminal, task wait draws a progress bar in place and keeps failures on screen', async () => {
    let out = '';
    const io: CliIo = {
      out: (t) => (out += t),
      err: (t) => (out += t),
      isTTY: true,
      columns: 100,
      env: {},
    };
    const client = new TaskerClient({ baseUrl: stack.url });
    const ctx = {
      io,
      json: false,
      client,
      settings: resolveClientSettings({ url: stack.url }, {}, isolatedHome),
    };
    const { task } = await client.createTask({ namespace: ns, name: 'fragile', context: {} });
    expect(await waitAndReport(ctx, task.task_uuid)).toBe(1);
    const frames = out.split(CLEAR_LINE);
    expect(frames.some((f) => f.startsWith('[░░░░░░░░░░░░░░░░░░░░░░░░] 0/3 steps'))).toBe(true);
    expect(frames.some((f) => /^\[█{8}░{16}\] 1\/3 steps/.test(f))).toBe(true);
    expect(out).toContain(`${CLEAR_LINE}step flaky failed: UPSTREAM: upstream said no\n`);
    expect(frames.at(-1)).toMatch(
      /^task [0-9a-f-]{36} error in .+\n {2}step flaky failed: UPSTREAM: upstream said no\n$/,
    );
    // Every redraw is a single line: the bar never prints a newline of its own.
    for (const f of frames.filter((f) => f.startsWith('['))) expect(f).not.toContain('\n');
  });

  it('task list (human and --all across pages)', async () => {
    const tag = `list-${randomUUID().slice(0, 8)}`;
    const made: string[] = [];
    for (let i = 0; i < 3; i++) {
      made.push(
        json<{ task: TaskBody }>(await tasker(['task', 'create', ns, 'linear', '--tag', tag, '--json'], env))
          .task.task_uuid,
      );
    }
    const page = await tasker(['task', 'list', '--tag', tag, '--limit', '2'], env);
    expect(page.code).toBe(0);
    expect(page.stdout).toMatch(/^TASK\s+TEMPLATE\s+STATE\s+STEPS\s+CREATED\s+TAGS$/m);
    expect(page.stdout).toContain('more tasks: --cursor ');
    const all = await tasker(['task', 'list', '--tag', tag, '--limit', '2', '--all'], env);
    for (const uuid of made) expect(all.stdout).toContain(uuid);
    expect(all.stdout).not.toContain('more tasks');
    const bad = await tasker(['task', 'list', '--state', 'finished'], env);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('unknown task state(s): finished');
  });

  it('task cancel: exit 0, then 4 when already finished; waiting on it exits 1', async () => {
    const { task } = json<{ task: TaskBody }>(await tasker(['task', 'create', ns, 'slow', '--json'], env));
    const cancel = await tasker(['task', 'cancel', task.task_uuid, '--reason', 'not needed'], env);
    expect(cancel.code, cancel.stderr).toBe(0);
    expect(cancel.stdout).toContain(`task ${task.task_uuid} cancelled`);
    const again = await tasker(['task', 'cancel', task.task_uuid], env);
    expect(again.code).toBe(4);
    expect(again.stderr).toContain('[INVALID_TRANSITION]');
    const wait = await tasker(['task', 'wait', task.task_uuid], env);
    expect(wait.code).toBe(1);
    expect(wait.stdout).toContain('cancelled');
  });

  it('task wait --timeout gives up with exit 1', async () => {
    const { task } = json<{ task: TaskBody }>(await tasker(['task', 'create', ns, 'slow', '--json'], env));
    const wait = await tasker(['task', 'wait', task.task_uuid, '--timeout', '1'], env);
    expect(wait.code).toBe(1);
    expect(wait.stdout).toContain(`timed out after 1s: task ${task.task_uuid} is`);
    await tasker(['task', 'cancel', task.task_uuid], env);
  });

  it('a failed step is resolved with step resolve, and the task then completes', async () => {
    const failed = await tasker(['task', 'create', ns, 'fragile', '--wait'], env);
    expect(failed.code).toBe(1);
    expect(failed.stdout).toMatch(
      /step flaky {2}enqueued_as_error_for_orchestration -> error {2}\[\w+\] {2}UPSTREAM: upstream said no/,
    );
    expect(failed.stdout).toContain('step flaky failed: UPSTREAM: upstream said no');
    const uuid = /created task ([0-9a-f-]{36})/.exec(failed.stdout)![1]!;

    const steps = await tasker(['step', 'list', uuid], env);
    expect(steps.stdout).toMatch(
      /^flaky\s+error\s+1\/1\s+failed\s+first\s+[0-9a-f-]{36}\s+UPSTREAM: upstream said no$/m,
    );

    // The failed task is in the dead-letter queue.
    const dlq = json<DlqListBody>(
      await tasker(['dlq', 'list', '--status', 'pending', '--all', '--json'], env),
    );
    const entry = dlq.items.find((e) => e.task_uuid === uuid)!;
    expect(entry.reason).toBe('permanent_failure');
    const show = await tasker(['dlq', 'show', entry.dlq_entry_uuid], env);
    expect(show.stdout).toMatch(/^reason\s+permanent_failure$/m);

    const resolve = await tasker(
      [
        'step',
        'resolve',
        uuid,
        'flaky',
        '--complete-with',
        '{"fixed": true}',
        '--reason',
        'fixed upstream by hand',
      ],
      env,
    );
    expect(resolve.code, resolve.stderr).toBe(0);
    expect(resolve.stdout).toContain('step flaky completed by hand: now complete');
    const wait = await tasker(['task', 'wait', uuid], env);
    expect(wait.code, wait.stdout + wait.stderr).toBe(0);
    const task = json<TaskBody>(await tasker(['task', 'get', uuid, '--json'], env));
    expect(task.state).toBe('complete');
    expect(task.steps.find((s) => s.name === 'last')!.result).toEqual({ saw: { fixed: true } });

    const resolved = await tasker(
      ['dlq', 'resolve', entry.dlq_entry_uuid, '--status', 'manually_resolved', '--notes', 'done'],
      env,
    );
    expect(resolved.code, resolved.stderr).toBe(0);
    expect(resolved.stdout).toContain('manually_resolved');

    // Retrying a step that completed is not allowed: exit 4.
    const retry = await tasker(['step', 'retry', uuid, 'first', '--reason', 'again'], env);
    expect(retry.code).toBe(4);
  });

  it('step retry runs a failed step again; step resolve without a result marks it resolved', async () => {
    const { task } = json<{ task: TaskBody }>(await tasker(['task', 'create', ns, 'fragile', '--json'], env));
    expect((await tasker(['task', 'wait', task.task_uuid], env)).code).toBe(1);
    const retry = await tasker(
      ['step', 'retry', task.task_uuid, 'flaky', '--reason', 'one more time', '--json'],
      env,
    );
    expect(retry.code, retry.stderr).toBe(0);
    expect(json<{ step: StepBody }>(retry).step.name).toBe('flaky');
    expect((await tasker(['task', 'wait', task.task_uuid], env)).code).toBe(1);
    const resolve = await tasker(['step', 'resolve', task.task_uuid, 'flaky', '--reason', 'skip it'], env);
    expect(resolve.code, resolve.stderr).toBe(0);
    expect(resolve.stdout).toContain('resolved by hand: now resolved_manually');
    expect((await tasker(['task', 'wait', task.task_uuid], env)).code).toBe(0);
  });

  it('step rerun runs a finished step and the steps below it again; the steps above keep their results', async () => {
    const { task } = json<{ task: TaskBody }>(await tasker(['task', 'create', ns, 'linear', '--json'], env));
    expect((await tasker(['task', 'wait', task.task_uuid], env)).code).toBe(0);
    const rerun = await tasker(
      ['step', 'rerun', task.task_uuid, 'transform', '--reason', 'the input was fixed', '--json'],
      env,
    );
    expect(rerun.code, rerun.stderr).toBe(0);
    expect(json<{ step: StepBody }>(rerun).step.name).toBe('transform');
    expect((await tasker(['task', 'wait', task.task_uuid], env)).code).toBe(0);
    const completions = async (step: string): Promise<number> =>
      (
        await db.pool.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM tasker.workflow_step_transitions t JOIN tasker.workflow_steps s USING (step_uuid)
           WHERE s.task_uuid = $1 AND s.name = $2 AND t.to_state = 'complete'`,
          [task.task_uuid, step],
        )
      ).rows[0]!.n;
    // transform and store ran twice; fetch once.
    expect(await completions('fetch')).toBe(1);
    expect(await completions('transform')).toBe(2);
    expect(await completions('store')).toBe(2);
    // A step the task does not have: exit 3, naming the steps it has.
    const unknown = await tasker(['step', 'rerun', task.task_uuid, 'nope', '--reason', 'x'], env);
    expect(unknown.code).toBe(3);
    expect(unknown.stderr).toContain('its steps: fetch, transform, store');
  });

  it('template validate: a broken file exits 1 and names the problem and its location', async () => {
    const res = await tasker(['template', 'validate', brokenYaml], env);
    expect(res.code).toBe(1);
    expect(res.stdout).toContain(`${brokenYaml}: invalid template`);
    expect(res.stdout).toMatch(
      new RegExp(
        `${brokenYaml.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:9: steps\\[1\\]\\.depends_on.*nowhere`,
      ),
    );
    const asJson = await tasker(['template', 'validate', brokenYaml, '--json'], env);
    expect(asJson.code).toBe(1);
    expect(json<{ valid: boolean; issues: { line?: number }[] }>(asJson)).toMatchObject({
      valid: false,
      issues: [{ line: 9 }],
    });
  });

  it('template validate of a good file, template register, template show draws the DAG', async () => {
    const valid = await tasker(['template', 'validate', validYaml], env);
    expect(valid.code, valid.stderr).toBe(0);
    expect(valid.stdout).toContain(`valid (${ns}/diamond@1.0.0, 4 steps)`);
    const registered = await tasker(['template', 'register', validYaml], env);
    expect(registered.code, registered.stderr).toBe(0);
    expect(registered.stdout).toContain(`registered ${ns}/diamond@1.0.0`);
    const show = await tasker(['template', 'show', `${ns}/diamond@1.0.0`], env);
    expect(show.code).toBe(0);
    expect(show.stdout).toContain(
      [
        '0 ┌ start',
        '  │',
        '1 ├ left   ◀─ start',
        '  ├ right  ◀─ start',
        '  │',
        '2 └ end    ◀─ left, right',
      ].join('\n'),
    );
    const list = await tasker(['template', 'list', '--namespace', ns], env);
    expect(list.stdout).toMatch(new RegExp(`^${ns}/diamond@1\\.0\\.0\\s+4\\s+always_unique`, 'm'));
  });

  it('not found exits 3 (task, template, step name); bad input exits 2', async () => {
    const task = await tasker(['task', 'get', randomUUID()], env);
    expect(task.code).toBe(3);
    expect(task.stderr).toContain('[TASK_NOT_FOUND]');
    const asJson = await tasker(['task', 'get', randomUUID(), '--json'], env);
    expect(asJson.code).toBe(3);
    expect(json<{ error: { code: string; status: number } }>(asJson).error).toMatchObject({
      code: 'TASK_NOT_FOUND',
      status: 404,
    });
    expect((await tasker(['template', 'show', `${ns}/nope`], env)).code).toBe(3);
    const { task: t } = json<{ task: TaskBody }>(
      await tasker(['task', 'create', ns, 'linear', '--json'], env),
    );
    const step = await tasker(['step', 'resolve', t.task_uuid, 'no_such_step', '--reason', 'r'], env);
    expect(step.code).toBe(3);
    expect(step.stderr).toContain("no step named 'no_such_step'");
    expect((await tasker(['task', 'get', 'not-a-uuid'], env)).code).toBe(2);
    expect((await tasker(['task', 'create', ns, 'linear', '--context', '{oops'], env)).code).toBe(2);
    expect((await tasker(['task', 'frobnicate'], env)).code).toBe(2);
    expect((await tasker(['step', 'retry', t.task_uuid, 'fetch'], env)).code).toBe(2); // --reason is required
  });

  it('health exits 0 when healthy and 2 when the API is unreachable', async () => {
    // A loaded test machine can make the server report `degraded` (event-loop delay): then the exit is 1.
    const ok = await tasker(['health'], env);
    const status = /^(healthy|degraded) {2}http/.exec(ok.stdout)?.[1];
    expect(status, ok.stdout + ok.stderr).toBeDefined();
    expect(ok.code).toBe(status === 'healthy' ? 0 : 1);
    const asJson = await tasker(['health', '--json'], env);
    expect(asJson.code).toBe(json<{ status: string }>(asJson).status === 'healthy' ? 0 : 1);
    expect(json<{ database: { ok: boolean } }>(asJson).database.ok).toBe(true);
    const down = await tasker(['health', '--url', `http://127.0.0.1:${await closedPort()}`]);
    expect(down.code).toBe(2);
    expect(down.stderr).toContain('ECONNREFUSED');
  });

  it('config validate and show work locally (no API)', async () => {
    const ok = await tasker(['config', 'validate', '--env', 'test']);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toContain('configuration valid (environment test');
    const bad = await tasker(['config', 'validate', '--env', 'nope']);
    expect(bad.code).toBe(2);
    expect(bad.stdout).toContain("environment: unknown environment 'nope'");
    const show = await tasker(['config', 'show', '--env', 'test', '--json'], {
      DATABASE_URL: 'postgresql://me:hunter2@db.example/tasker',
      TASKER_API_KEY: 'super-secret',
    });
    expect(show.code, show.stderr).toBe(0);
    expect(show.stdout).not.toContain('hunter2');
    expect(show.stdout).not.toContain('super-secret');
    const shown = json<{ config: { common: { database: { url: string } } } }>(show);
    expect(shown.config.common.database.url).toBe('postgresql://me:********@db.example/tasker');
  });
});

describe('tasker CLI credentials', () => {
  let db: TestDatabase;
  let api: ApiServer;
  let url: string;

  beforeAll(async () => {
    db = await createTestDatabase();
    api = await createApiServer({
      config: testConfig(db.url, {
        orchestration: {
          api: { auth: { enabled: true, api_keys: [{ name: 'ops', key: 'ops-key', permissions: ['*'] }] } },
        },
      }),
      pool: db.pool,
    });
    url = (await api.listen()).url;
  });
  afterAll(async () => {
    await api?.close();
    await db?.drop();
  });

  it('401 without a key (exit 2); the key from --api-key, TASKER_API_KEY or the CLI config file works', async () => {
    const none = await tasker(['task', 'list', '--url', url]);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('[UNAUTHENTICATED]');
    expect(none.stderr).toContain('hint: pass --api-key');
    expect((await tasker(['task', 'list', '--url', url, '--api-key', 'ops-key'])).code).toBe(0);
    expect((await tasker(['task', 'list'], { TASKER_URL: url, TASKER_API_KEY: 'ops-key' })).code).toBe(0);
    const file = join(dir, 'cli.toml');
    writeFileSync(file, `url = "${url}"\napi_key = "ops-key"\n`);
    expect((await tasker(['task', 'list', '--cli-config', file])).code).toBe(0);
    expect((await tasker(['task', 'list'], { TASKER_CLI_CONFIG: file })).code).toBe(0);
    // A flag beats the file.
    expect((await tasker(['task', 'list', '--cli-config', file, '--api-key', 'wrong'])).code).toBe(2);
    const missing = await tasker(['task', 'list', '--cli-config', join(dir, 'missing.toml')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('CLI config file not found');
  });
});

describe('tasker orchestrator serves the REST API', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await db?.drop();
  });

  it('starts the API when orchestration.api.enabled, answers CLI calls, and stops on SIGTERM', async () => {
    const child = spawn(
      process.execPath,
      [
        join(root, 'bin', 'tasker.js'),
        'orchestrator',
        '--templates',
        'examples/templates',
        '--log-level',
        'info',
      ],
      {
        cwd: root,
        env: { ...process.env, DATABASE_URL: db.url, TASKER_ENV: 'test' },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    try {
      // The test environment listens on port 0: read the URL from the log line.
      const url = await new Promise<string>((resolve, reject) => {
        let out = '';
        child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
          out += chunk;
          const match = /"url":"(http:[^"]+)".*"msg":"API listening"/.exec(out);
          if (match) resolve(match[1]!);
        });
        child.once('exit', (code) => reject(new Error(`orchestrator exited (${code}): ${out}`)));
      });
      const health = await tasker(['health', '--url', url, '--json']);
      expect(health.code, health.stderr).not.toBe(2);
      expect(json<{ database: { ok: boolean } }>(health).database.ok).toBe(true);
      const templates = await tasker(['template', 'list', '--url', url, '--namespace', 'examples']);
      expect(templates.stdout).toContain('examples/diamond_workflow@1.0.0');
      const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    } finally {
      child.kill('SIGKILL');
    }
  });
});
