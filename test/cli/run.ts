import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = fileURLToPath(new URL('../../', import.meta.url));
const bin = join(root, 'scripts', 'tasker-from-source.js');

/** A home directory of its own, so a developer's ~/.config/tasker/cli.toml never leaks into a test. */
export const isolatedHome = mkdtempSync(join(tmpdir(), 'tasker-cli-home-'));

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `node bin/tasker.js ...args` as a real process. Asynchronous on purpose: the API server under test
 * runs in this process and must keep serving while the CLI talks to it.
 */
export function tasker(args: string[], env: Record<string, string | undefined> = {}): Promise<CliResult> {
  const base: NodeJS.ProcessEnv = { ...process.env };
  for (const key of ['TASKER_URL', 'TASKER_API_KEY', 'TASKER_TOKEN', 'TASKER_CLI_CONFIG']) delete base[key];
  const child = spawn(process.execPath, [bin, ...args], {
    cwd: root,
    env: { ...base, HOME: isolatedHome, XDG_CONFIG_HOME: join(isolatedHome, '.config'), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(
        new Error(`tasker ${args.join(' ')} did not exit within 60 s\nstdout: ${stdout}\nstderr: ${stderr}`),
      );
    }, 60_000);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Parses the standard output of a `--json` run. */
export function json<T>(result: CliResult): T {
  try {
    return JSON.parse(result.stdout) as T;
  } catch {
    throw new Error(`stdout is not JSON (exit ${result.code}):\n${result.stdout}\nstderr: ${result.stderr}`);
  }
}
