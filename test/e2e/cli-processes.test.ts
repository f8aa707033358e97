import { spawnSync, type ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTask } from '../../src/orchestration/task-creator.js';
import {
  exitCode,
  ROOT,
  startCli,
  startExampleWorker,
  TASKER_BIN,
  waitForOutput,
} from '../support/cli-process.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { waitForTask } from '../support/engine.js';

describe('tasker orchestrator and tasker worker as separate processes', () => {
  let db: TestDatabase;
  const children: ChildProcess[] = [];
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    db = await createTestDatabase();
    env = { ...process.env, DATABASE_URL: db.url, TASKER_ENV: 'test' };
  });
  afterAll(async () => {
    for (const c of children) c.kill('SIGKILL');
    await db?.drop();
  });

  it('tasker migrate reports that the database is current', () => {
    const res = spawnSync(process.execPath, [TASKER_BIN, 'migrate'], { cwd: ROOT, env, encoding: 'utf8' });
    expect(res.status).toBe(0);
    expect(res.stdout).toMatch(/applied 0 migration\(s\); \d+ already applied/);
  });

  it('run a task created from code through CLI processes, then stop them gracefully', async () => {
    // Info level: the test waits for each process's start-up line.
    const orchestrator = startCli(
      ['--log-level', 'info', 'orchestrator', '--templates', 'examples/templates'],
      env,
    );
    const worker = startExampleWorker(env, ['--log-level', 'info']);
    children.push(orchestrator, worker);
    // The worker can finish the task on its own before the orchestrator is up; the stop below is of running processes.
    const started = Promise.all([
      waitForOutput(orchestrator, 'orchestrator started'),
      waitForOutput(worker, 'worker started'),
    ]);

    // The worker registers the templates at start-up; retry until it has.
    let taskUuid: string | undefined;
    const deadline = Date.now() + 30_000;
    while (!taskUuid) {
      try {
        taskUuid = (
          await createTask(db.pool, {
            namespace: 'examples',
            name: 'diamond_workflow',
            context: { even_number: 3 },
          })
        ).taskUuid;
      } catch (e) {
        if ((e as { code?: string }).code !== 'TEMPLATE_NOT_FOUND' || Date.now() > deadline) throw e;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    const task = await waitForTask(db.pool, taskUuid, 60_000);
    expect(task.state).toBe('complete');
    expect(task.steps.find((s) => s.name === 'diamond_end')!.result).toEqual({ value: 9 ** 2 + 9 ** 3 });

    await started;
    orchestrator.kill('SIGTERM');
    worker.kill('SIGTERM');
    expect(await exitCode(orchestrator)).toBe(0);
    expect(await exitCode(worker)).toBe(0);
  });

  it('a worker given a handlers file without handlers exits non-zero and says why', () => {
    const res = spawnSync(
      process.execPath,
      [TASKER_BIN, 'worker', '--handlers', 'examples/dev-tasks.ts', '--namespace', 'examples'],
      {
        cwd: ROOT,
        env,
        encoding: 'utf8',
      },
    );
    expect(res.status).toBe(2);
    expect(res.stderr).toContain('exports no handlers');
  });

  it('an invalid configuration value is reported with its key and exits non-zero', () => {
    const res = spawnSync(process.execPath, [TASKER_BIN, 'migrate'], {
      cwd: ROOT,
      env: { ...env, DATABASE_URL: 'mysql://nope' },
      encoding: 'utf8',
    });
    expect(res.status).toBe(2);
    expect(res.stderr).toContain('common.database.url');
  });
});
