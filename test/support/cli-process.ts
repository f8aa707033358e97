/** The `tasker` CLI as real child processes, for end-to-end tests. */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** The CLI from the sources (through tsx): tests never depend on a stale dist/. */
export const TASKER_BIN = `${ROOT}scripts/tasker-from-source.js`;

/** Runs `tasker <args>` from the repository root with piped stdout/stderr. */
export function startCli(args: readonly string[], env: NodeJS.ProcessEnv): ChildProcess {
  return spawn(process.execPath, [TASKER_BIN, ...args], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** `tasker [globalArgs] worker` with the example handlers and templates. */
export function startExampleWorker(env: NodeJS.ProcessEnv, globalArgs: readonly string[] = []): ChildProcess {
  return startCli(
    [...globalArgs, 'worker', '--handlers', 'examples/handlers.ts', '--templates', 'examples/templates'],
    env,
  );
}

/** Resolves with the process's exit code (at once if it already exited). */
export function exitCode(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) resolve(child.exitCode);
    else child.once('exit', (code) => resolve(code));
  });
}
