/**
 * `tasker dev` never leaves an embedded PostgreSQL or its data directory behind: not when a handlers module
 * fails at import, not when interrupted during start-up or while the examples run. Each run gets a private
 * TMPDIR, where the server's data directory is made, so both checks look at exactly this run's leftovers.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import {
  chmodSync,
  cpSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT, TASKER_BIN } from '../support/cli-process.js';

const scratch = mkdtempSync(join(tmpdir(), 'tasker-dev-cleanup-'));
// Reachable by the `postgres` OS user, which runs the server when the tests run as root.
chmodSync(scratch, 0o755);
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** Processes whose command line mentions `text` (the data directory is on the postgres command line). */
function processesMentioning(text: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(text)) pids.push(Number(entry));
    } catch {
      // The process ended while we looked.
    }
  }
  return pids;
}

interface DevRun {
  child: ChildProcess;
  tmp: string;
  out: () => string;
  err: () => string;
  exited: Promise<number | null>;
  waitFor: (text: string) => Promise<void>;
}

/** `tasker dev` with no DATABASE_URL (so it starts an embedded PostgreSQL) and a TMPDIR of its own. */
function startDev(args: string[]): DevRun {
  const tmp = mkdtempSync(join(scratch, 'tmp-'));
  chmodSync(tmp, 0o755);
  const env: NodeJS.ProcessEnv = { ...process.env, TMPDIR: tmp, TASKER_ENV: 'development' };
  delete env.DATABASE_URL;
  const child = spawn(process.execPath, [TASKER_BIN, 'dev', '--no-api', ...args], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  const waiters: Array<() => void> = [];
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString();
    waiters.forEach((w) => w());
  });
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const waitFor = (text: string): Promise<void> =>
    new Promise((resolve, reject) => {
      const check = (): void => {
        if (out.includes(text)) resolve();
      };
      waiters.push(check);
      check();
      void exited.then((code) => reject(new Error(`exited (${code}) before '${text}': ${out}\n${err}`)));
    });
  return { child, tmp, out: () => out, err: () => err, exited, waitFor };
}

/** Nothing of the run's PostgreSQL is left: no data directory in its TMPDIR, no process using one. */
function expectNothingLeft(run: DevRun): void {
  expect(readdirSync(run.tmp).filter((f) => /^tasker-pg-[0-9a-f]{12}/.test(f))).toEqual([]);
  expect(processesMentioning(run.tmp)).toEqual([]);
}

function examplesWithHandlers(handlersSource: string): string {
  const dir = mkdtempSync(join(scratch, 'examples-'));
  mkdirSync(join(dir, 'templates'));
  cpSync(join(ROOT, 'examples/templates/linear.yaml'), join(dir, 'templates/linear.yaml'));
  writeFileSync(join(dir, 'handlers.js'), handlersSource);
  writeFileSync(join(dir, 'dev-tasks.js'), 'export const exampleTasks = [];\n');
  return dir;
}

describe('tasker dev cleans up after itself', () => {
  it('a handlers module that throws at import: the error is reported, the embedded PostgreSQL is gone', async () => {
    const dir = examplesWithHandlers("throw new Error('handlers exploded at import');\n");
    const run = startDev(['--examples', dir]);
    const code = await run.exited;
    expect(code).not.toBe(0);
    expect(run.out()).toContain('database ready');
    expect(run.err()).toContain('handlers exploded at import');
    expectNothingLeft(run);
  });

  it('SIGINT during start-up (while PostgreSQL initialises) stops it and removes its data directory', async () => {
    const run = startDev([]);
    await run.waitFor('starting embedded PostgreSQL');
    // Wait until the data directory exists, so the signal lands while initdb runs.
    for (let i = 0; i < 500 && !readdirSync(run.tmp).some((f) => /^tasker-pg-[0-9a-f]{12}$/.test(f)); i++) {
      await new Promise((r) => setTimeout(r, 10));
    }
    run.child.kill('SIGINT');
    expect(await run.exited).toBe(130);
    expect(run.out()).not.toContain('database ready');
    expectNothingLeft(run);
  });

  it('SIGTERM while the examples run stops everything and removes the data directory', async () => {
    const run = startDev([]);
    await run.waitFor('created');
    run.child.kill('SIGTERM');
    expect(await run.exited).toBe(143);
    expectNothingLeft(run);
  });
});
