/**
 * The built package as an application uses it: entry points by role, the compiled CLI, and handlers importing
 * a second copy of Tasker (the built one) inside a `tasker worker` that runs another (the sources).
 */
import { spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTask } from '../../src/orchestration/task-creator.js';
import { getTask } from '../../src/orchestration/task-queries.js';
import { registerTemplate } from '../../src/orchestration/template-registry.js';
import { loadTemplatesFromDir } from '../../src/templates/index.js';
import { ensureBuilt } from '../support/built.js';
import { exitCode, ROOT, startCli } from '../support/cli-process.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';

beforeAll(() => ensureBuilt(), 180_000);

/** Runs an ES module snippet in a fresh Node process from the repository root; returns its stdout. */
function node(source: string): string {
  const res = spawnSync(process.execPath, ['--input-type=module', '-e', source], {
    cwd: ROOT,
    encoding: 'utf8',
  });
  expect(res.status, res.stderr).toBe(0);
  return res.stdout;
}

/** Packages loaded (through Node's CommonJS loader, as pg and fastify are) after importing `specifier`. */
function packagesLoadedBy(specifier: string): string[] {
  const out = node(`
    import { createRequire } from 'node:module';
    await import(${JSON.stringify(specifier)});
    const loaded = Object.keys(createRequire(import.meta.url).cache)
      .map((p) => /node_modules\\/((?:@[^/]+\\/)?[^/]+)\\//.exec(p)?.[1]).filter(Boolean);
    console.log(JSON.stringify([...new Set(loaded)].sort()));`);
  return JSON.parse(out) as string[];
}

describe('entry points of the built package', () => {
  it('tasker/client loads neither Fastify nor pg (the root entry does load them)', () => {
    const client = packagesLoadedBy('tasker/client');
    expect(client).not.toContain('pg');
    expect(client).not.toContain('fastify');
    // The check can fail: importing the root entry does load both.
    const root = packagesLoadedBy('tasker');
    expect(root).toContain('pg');
    expect(root).toContain('fastify');
  });

  it('tasker/client, tasker/testing and the root export what they should', () => {
    const out = node(`
      const client = await import('tasker/client');
      const testing = await import('tasker/testing');
      const root = await import('tasker');
      console.log(JSON.stringify({
        client: typeof client.TaskerClient, clientCreate: typeof client.createOrchestrator,
        testing: typeof testing.startEmbeddedPostgres,
        root: [typeof root.createWorker, typeof root.TaskerClient, typeof root.QueueClient],
      }));`);
    expect(JSON.parse(out)).toEqual({
      client: 'function',
      clientCreate: 'undefined',
      testing: 'function',
      root: ['function', 'function', 'undefined'],
    });
  });

  it('the bin runs the compiled CLI: --version prints the package version', () => {
    const res = spawnSync(process.execPath, [`${ROOT}bin/tasker.js`, '--version'], { encoding: 'utf8' });
    expect(res.status, res.stderr).toBe(0);
    const pkg = JSON.parse(readFileSync(`${ROOT}package.json`, 'utf8')) as { version: string };
    expect(res.stdout.trim()).toBe(pkg.version);
  });
});

describe('handlers importing a second copy of Tasker, run by a `tasker worker` process', () => {
  let db: TestDatabase;
  let worker: ChildProcess | undefined;
  let orchestrator: ChildProcess | undefined;
  let workerLog = '';
  const fixtures = fileURLToPath(new URL('../fixtures/second-copy/', import.meta.url));

  beforeAll(async () => {
    db = await createTestDatabase();
    for (const t of await loadTemplatesFromDir(`${fixtures}templates`)) await registerTemplate(db.pool, t);
    const env = { ...process.env, DATABASE_URL: db.url, TASKER_ENV: 'test' };
    orchestrator = startCli(['orchestrator'], env);
    worker = startCli(
      ['worker', '--handlers', `${fixtures}handlers.mjs`, '--templates', `${fixtures}templates`],
      env,
    );
    worker.stderr!.on('data', (d: Buffer) => (workerLog += d.toString()));
  });
  afterAll(async () => {
    worker?.kill('SIGKILL');
    orchestrator?.kill('SIGKILL');
    await db?.drop();
  });

  it('a PermanentError fails the step after one attempt; retryAfterMs sets the retry delay', async () => {
    const { taskUuid } = await createTask(db.pool, { namespace: 'copies', name: 'second_copy', context: {} });
    const deadline = Date.now() + 60_000;
    let task = await getTask(db.pool, taskUuid);
    // Wait for the first attempt of both steps: the permanent failure and the requested retry.
    while (Date.now() < deadline) {
      task = await getTask(db.pool, taskUuid);
      const later = task?.steps.find((s) => s.name === 'later');
      const declined = task?.steps.find((s) => s.name === 'declined');
      if (later?.nextRetryAt && later.attempts === 1 && declined?.error) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const observedAt = Date.now();
    const declined = task!.steps.find((s) => s.name === 'declined')!;
    const later = task!.steps.find((s) => s.name === 'later')!;
    expect(declined.attempts, workerLog).toBe(1);
    expect(declined.state).toBe('error');
    expect(declined.error).toMatchObject({ name: 'PermanentError', code: 'CARD_DECLINED', retryable: false });
    expect(later.error).toMatchObject({ name: 'RetryableError', code: 'RATE_LIMITED', retryable: true });
    // Asked for 4 s; the template's own backoff would be about 50 ms.
    expect(later.nextRetryAt!.getTime() - observedAt).toBeGreaterThan(2000);

    // The permanent failure is final: the task ends in error and the step is never tried again.
    while (Date.now() < deadline) {
      task = await getTask(db.pool, taskUuid);
      if (task?.state === 'error') break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(task!.state).toBe('error');
    expect(task!.steps.find((s) => s.name === 'declined')!.attempts).toBe(1);
    worker!.kill('SIGTERM');
    expect(await exitCode(worker!)).toBe(0);
  }, 90_000);
});
