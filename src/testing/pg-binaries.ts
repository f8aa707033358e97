/**
 * When running as root, PostgreSQL runs as the `postgres` OS user, which must be able to reach its binaries. A
 * project in a `0700` directory (any `mktemp -d`, anything under `/root`) hides node_modules from that user, and
 * starting the server failed with `spawn .../initdb EACCES`. The binaries are then copied, once per version, to
 * a directory under the OS temporary directory that the user can read. The data directory, too, must be
 * somewhere that user can reach.
 *
 * @internal
 */
import { chmod, cp, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';

interface Binaries {
  initdb: string;
  postgres: string;
}

/** Whether `uid`/`gid` may search or execute `path` by its mode bits (root's own bypass does not apply). */
function allowed(
  st: { mode: number; uid: number; gid: number },
  uid: number,
  gid: number,
  bit: number,
): boolean {
  if (st.uid === uid) return (st.mode & (bit << 6)) !== 0;
  if (st.gid === gid) return (st.mode & (bit << 3)) !== 0;
  return (st.mode & bit) !== 0;
}

/** True when `uid` can reach and execute `file`: every directory above it searchable, the file executable. */
export async function binariesReadableBy(file: string, uid: number, gid: number): Promise<boolean> {
  if (!allowed(await stat(file), uid, gid, 1)) return false;
  return reachableBy(dirname(file), uid, gid);
}

/** True when `uid` can search `dir` and every directory above it. */
export async function reachableBy(dir: string, uid: number, gid: number): Promise<boolean> {
  for (; ; dir = dirname(dir)) {
    if (!allowed(await stat(dir), uid, gid, 1)) return false;
    if (dirname(dir) === dir) return true;
  }
}

/**
 * Copies the package's `native/` tree (bin, lib, share) to `<tmpdir>/tasker-pg-bin-<version>` readable by
 * everyone, unless a complete copy is already there, and returns the copied binaries' paths.
 */
export async function copyBinariesFor(binaries: Binaries, uid: number, gid: number): Promise<Binaries> {
  const native = dirname(dirname(binaries.postgres));
  const pkg = JSON.parse(await readFile(join(dirname(native), 'package.json'), 'utf8')) as {
    version: string;
  };
  const target = join(await baseDirFor(uid, gid), `tasker-pg-bin-${pkg.version}-${process.arch}`);
  const copied = {
    initdb: join(target, 'bin', 'initdb'),
    postgres: join(target, 'bin', 'postgres'),
  };
  const done = join(target, '.complete');
  const complete = await stat(done).then(
    () => true,
    () => false,
  );
  if (!complete || !(await binariesReadableBy(copied.postgres, uid, gid))) {
    // Copied beside the target and renamed into place, so that a concurrent start never sees half a copy.
    const staging = `${target}.${randomBytes(4).toString('hex')}`;
    await cp(native, staging, { recursive: true, verbatimSymlinks: true });
    await chmod(staging, 0o755);
    await writeFile(join(staging, '.complete'), '');
    await rm(target, { recursive: true, force: true });
    await rename(staging, target).catch(async (e: unknown) => {
      // Another process won the race: its copy is as good as ours.
      await rm(staging, { recursive: true, force: true });
      if (!(await binariesReadableBy(copied.postgres, uid, gid))) throw e;
    });
  }
  return copied;
}

/**
 * Where files the `postgres` OS user must reach go: the OS temporary directory when that user can reach it,
 * else `/tmp` (a private TMPDIR, e.g. under a 0700 home, is not reachable).
 */
export async function baseDirFor(uid: number, gid: number): Promise<string> {
  for (const dir of [tmpdir(), '/tmp']) {
    if (await reachableBy(dir, uid, gid).catch(() => false)) return dir;
  }
  throw new Error(`neither ${tmpdir()} nor /tmp is reachable by the postgres OS user (uid ${uid})`);
}
