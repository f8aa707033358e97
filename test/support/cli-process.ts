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

/**
 * Resolves once the child has written `text` to stdout or stderr (pino logs go to stdout); rejects if it exits
 * first. Tests that signal a process wait for its start-up line: a signal that arrives while Node is still loading
 * modules meets the default handler, not the CLI's graceful one.
 */
export function waitForOutput(child: ChildProcess, text: string): Promise<void> {
  return new Promise((resolve, reject) => {
    let seen = '';
    const onData = (chunk: Buffer): void => {
      seen += chunk.toString();
      if (!seen.includes(text)) return;
      cleanup();
      resolve();
    };
    const onExit = (code: number | null): void => {
      cleanup();
      reject(new Error(`process exited (${code}) before printing ${JSON.stringify(text)}:\n${seen}`));
    };
    const cleanup = (): void => {
      child.stdout?.off('data', onData);
      child.stderr?.off('data', onData);
      child.off('exit', onExit);
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', onExit);
  });
}
