/**
 * `npm run bench -- --only peers`: W1-W4 on Tasker (default, and on the four-transaction path) and on
 * graphile-worker, side by side in one run on the same server, each system on a fresh database, 10 concurrent
 * handlers each, trivial handlers. Drift (this machine's speed wanders by ±30 % from one minute to the next) hits
 * all systems alike: W1 and W2 alternate single runs between the systems, all started; W3 and W4 run every
 * system in turn (every system runs W3, then every system runs W4), each alone.
 *
 * - W1 linear-4 and W2 diamond-4: one task at a time, 50 runs after 5 warm-ups, nearest-rank percentiles. Run i
 *   of every system follows run i of the one before it, so each system's samples meet the same moments. Tasker
 *   (default) alternates with graphile-worker and one durable commit (the floor, measured the way the runs
 *   are); the four-transaction path alternates with graphile-worker in a rotation of its own, so that its long
 *   runs do not stretch the pauses between the others' runs (a process that waited longer wakes up slower).
 * - W1 back to back: Tasker (default) alone, then the floor alone, each run right after the one before.
 * - W3: 2,000 linear-4 tasks submitted at once after 20 warm-up tasks; wall time to the last completion.
 *   The server CPU per step is measured over W3 (the backends of the system's database, from /proc).
 * - W4: 1 → 200 → 1 fan-out, median wall time of 3 runs after 1 warm-up.
 */
import type pg from 'pg';
import { migrate } from '../../src/db/migrate.js';
import { createPool } from '../../src/db/pool.js';
import { startGraphileWorker } from './graphile.js';
import { BackendCpu, CommitFloor } from './measure.js';
import { DIAMOND4, FANOUT200, LINEAR4, median, percentile, type Shape } from './shapes.js';
import type { PeerSystem } from './system.js';
import { startTasker } from './tasker.js';

const SHAPES = [LINEAR4, DIAMOND4, FANOUT200];
const CONCURRENCY = 10;

interface Latency {
  p50: number;
  p95: number;
}

export interface PeerFigures {
  label: string;
  w1: Latency;
  w2: Latency;
  /** graphile-worker's W1 and W2 p50 in the rotation this system ran in (the denominators of its ratios). */
  peer: { w1: number; w2: number };
  w3: { seconds: number; stepsPerSec: number; cpuMsPerStep: number };
  w4: { wallMs: number };
}

export interface PeersResult {
  /** One durable one-row commit, p50: in the W1 rotation, and back to back. */
  floor: { rotation: number; backToBack: number };
  /** Tasker (default) W1 run back to back, alone: p50. */
  w1BackToBack: number;
  systems: PeerFigures[];
  quick: boolean;
}

export interface Db {
  name: string;
  url: string;
}

export async function createDatabase(admin: pg.Client, serverUrl: string, tag: string): Promise<Db> {
  const name = `peers_${tag}_${Date.now()}`;
  await admin.query(`CREATE DATABASE ${name}`);
  const u = new URL(serverUrl);
  u.pathname = `/${name}`;
  return { name, url: u.toString() };
}

export async function migrated(db: Db): Promise<Db> {
  const pool = createPool({
    url: db.url,
    maxConnections: 1,
    idleTimeoutMs: 1000,
    acquireTimeoutMs: 10_000,
    statementTimeoutMs: 0,
    applicationName: 'tasker-bench',
  });
  await migrate(pool);
  await pool.end();
  return db;
}

export async function latency(system: PeerSystem, shape: Shape, runs: number, warmups: number) {
  return (await pairedLatency([system], shape, runs, warmups))[0]!;
}

/**
 * One-at-a-time latency of several systems measured together: run i of each system right after run i of the
 * previous one (the order rotates with i, so no system always comes first), so that the machine's drift meets
 * every system alike. p50 and p95 (nearest rank) per system, in the order given.
 */
export async function pairedLatency(
  systems: readonly PeerSystem[],
  shape: Shape,
  runs: number,
  warmups: number,
): Promise<{ p50: number; p95: number }[]> {
  const samples = systems.map((): number[] => []);
  for (let i = 0; i < warmups + runs; i++) {
    for (let k = 0; k < systems.length; k++) {
      const j = (i + k) % systems.length;
      const t0 = performance.now();
      await systems[j]!.run(shape, i);
      if (i >= warmups) samples[j]!.push(performance.now() - t0);
    }
  }
  return samples.map((s) => {
    s.sort((a, b) => a - b);
    return { p50: percentile(s, 50), p95: percentile(s, 95) };
  });
}

/** One system of the run: its database, how to start it, and its figures as they come in. */
interface Entry {
  label: string;
  db: Db;
  start: () => Promise<PeerSystem>;
  figures: Partial<PeerFigures>;
}

/**
 * W1 and W2: Tasker (default), graphile-worker and one durable commit in one rotation, the four-transaction path
 * and graphile-worker in another; then Tasker's W1 and the commit back to back. `started` are the entries'
 * systems, started, in the entries' order (Tasker, four transactions, graphile-worker).
 */
async function latencyRotations(o: {
  entries: readonly Entry[];
  started: readonly PeerSystem[];
  floor: CommitFloor;
  runs: number;
  warmups: number;
  quick: boolean;
  log: (line: string) => void;
}): Promise<{ floor: PeersResult['floor']; w1BackToBack: number }> {
  const { runs, warmups, log } = o;
  const [tasker, tasker4, graphile] = o.started as [PeerSystem, PeerSystem, PeerSystem];
  const [t, t4, gw] = o.entries as [Entry, Entry, Entry];
  const commit: PeerSystem = {
    label: 'one durable commit',
    run: () => o.floor.commit(),
    runMany: () => Promise.reject(new Error('the floor runs one commit at a time')),
    stop: () => Promise.resolve(),
  };
  for (const e of o.entries) e.figures.peer = { w1: 0, w2: 0 };
  let rotationFloor = 0;
  for (const [id, shape, title] of [
    ['w1', LINEAR4, 'W1 linear-4'],
    ['w2', DIAMOND4, 'W2 diamond-4'],
  ] as const) {
    const [ft, fgw, fc] = await pairedLatency([tasker, graphile, commit], shape, runs, warmups);
    const [ft4, fgw4] = await pairedLatency([tasker4, graphile], shape, runs, warmups);
    if (id === 'w1') rotationFloor = fc!.p50;
    t.figures[id] = ft!;
    gw.figures[id] = fgw!;
    t4.figures[id] = ft4!;
    t.figures.peer![id] = fgw!.p50;
    gw.figures.peer![id] = fgw!.p50;
    t4.figures.peer![id] = fgw4!.p50;
    for (const [label, f] of [
      [t.label, ft!],
      [gw.label, fgw!],
      [t4.label, ft4!],
      [`${gw.label} (with the four-transaction path)`, fgw4!],
    ] as const) {
      log(`[${label}] ${title} p50 ${f.p50.toFixed(2)} ms p95 ${f.p95.toFixed(2)} ms`);
    }
  }
  log(`[one durable commit] in the W1 rotation: p50 ${rotationFloor.toFixed(3)} ms`);
  const w1BackToBack = (await latency(tasker, LINEAR4, runs, warmups)).p50;
  const backToBack = await o.floor.backToBackP50(o.quick ? 50 : 200);
  log(
    `[Tasker (default)] W1 back to back p50 ${w1BackToBack.toFixed(2)} ms; one durable commit back to back p50 ${backToBack.toFixed(3)} ms`,
  );
  return { floor: { rotation: rotationFloor, backToBack }, w1BackToBack };
}

/** The three systems of the run, each with a fresh database (Tasker's migrated). */
async function peerEntries(admin: pg.Client, serverUrl: string): Promise<Entry[]> {
  // For W3 and W4 each system runs alone, started for its turn and stopped after it (databases are kept between
  // turns): three systems' pools under a burst would exceed a default server's max_connections. One task at a
  // time (W1, W2) opens only a few connections per system, so there all are started together.
  const entries: Entry[] = [];
  const taskerDb = await migrated(await createDatabase(admin, serverUrl, 'tasker'));
  entries.push({
    label: 'Tasker (default)',
    db: taskerDb,
    // The same number of concurrent handlers in every system (the production environment's default is 50).
    start: () =>
      startTasker(taskerDb.url, SHAPES, 'Tasker (default)', {
        worker: { max_concurrent_handlers: CONCURRENCY },
      }),
    figures: {},
  });
  // The path that was the default before ADR 0009, for the before/after in the same run.
  const fourDb = await migrated(await createDatabase(admin, serverUrl, 'tasker4'));
  entries.push({
    label: 'Tasker, 4 transactions per step',
    db: fourDb,
    start: () =>
      startTasker(fourDb.url, SHAPES, 'Tasker, 4 transactions per step', {
        worker: { resolve_in_completion: false, max_concurrent_handlers: CONCURRENCY },
      }),
    figures: {},
  });
  const gwDb = await createDatabase(admin, serverUrl, 'graphile');
  entries.push({
    label: 'graphile-worker',
    db: gwDb,
    start: () => startGraphileWorker(gwDb.url, SHAPES, CONCURRENCY),
    figures: {},
  });
  return entries;
}

export async function runPeers(options: {
  admin: pg.Client;
  serverUrl: string;
  quick: boolean;
  log: (line: string) => void;
}): Promise<PeersResult> {
  const { admin, serverUrl, quick, log } = options;
  const runs = quick ? 10 : 50;
  const warmups = quick ? 2 : 5;
  const burst = quick ? 200 : 2000;
  const floorDb = await createDatabase(admin, serverUrl, 'floor');

  const entries = await peerEntries(admin, serverUrl);
  const turn = async (e: Entry, body: (system: PeerSystem) => Promise<void>): Promise<void> => {
    const system = await e.start();
    try {
      await body(system);
    } finally {
      await system.stop();
    }
  };
  const floor = new CommitFloor(floorDb.url);
  let floorFigures: PeersResult['floor'] = { rotation: 0, backToBack: 0 };
  let w1BackToBack = 0;
  try {
    await floor.start();
    const started: PeerSystem[] = [];
    try {
      for (const e of entries) started.push(await e.start());
      ({ floor: floorFigures, w1BackToBack } = await latencyRotations({
        entries,
        started,
        floor,
        runs,
        warmups,
        quick,
        log,
      }));
    } finally {
      for (const system of started) await system.stop();
      await floor.end();
    }
    for (const e of entries) {
      await turn(e, async (system) => {
        await system.runMany(LINEAR4, 20, 100_000);
        const cpu = new BackendCpu(admin, e.db.name);
        await cpu.start();
        const t0 = performance.now();
        await system.runMany(LINEAR4, burst, 200_000);
        const seconds = (performance.now() - t0) / 1000;
        const cpuMs = await cpu.stopMs();
        const steps = burst * 4;
        e.figures.w3 = { seconds, stepsPerSec: steps / seconds, cpuMsPerStep: cpuMs / steps };
      });
      const w3 = e.figures.w3!;
      log(
        `[${e.label}] W3 ${burst} linear-4 at once: ${w3.seconds.toFixed(2)} s, ${w3.stepsPerSec.toFixed(0)} steps/s, server CPU ${w3.cpuMsPerStep.toFixed(3)} ms/step`,
      );
    }
    for (const e of entries) {
      await turn(e, async (system) => {
        await system.run(FANOUT200, 0);
        const walls: number[] = [];
        for (let i = 0; i < 3; i++) {
          const t0 = performance.now();
          await system.run(FANOUT200, i + 1);
          walls.push(performance.now() - t0);
        }
        e.figures.w4 = { wallMs: median(walls) };
      });
      log(`[${e.label}] W4 1 → 200 → 1 wall (median of 3) ${e.figures.w4!.wallMs.toFixed(0)} ms`);
    }
  } finally {
    for (const db of [...entries.map((e) => e.db), floorDb]) {
      await admin.query(`DROP DATABASE ${db.name} WITH (FORCE)`);
    }
  }
  return {
    floor: floorFigures,
    w1BackToBack,
    quick,
    systems: entries.map((e) => ({ label: e.label, ...(e.figures as Omit<PeerFigures, 'label'>) })),
  };
}

const ratio = (a: number, b: number): string => `${(a / b).toFixed(2)}x`;

/** The results as a Markdown table, with the ratio of Tasker to graphile-worker per figure. */
export function peersMarkdown(r: PeersResult): string[] {
  const peer = r.systems.find((s) => s.label === 'graphile-worker')!;
  const rows = r.systems.map(
    (s) =>
      `| ${s.label} | ${s.w1.p50.toFixed(2)} ms | ${s.w2.p50.toFixed(2)} ms | ${s.w3.stepsPerSec.toFixed(0)} | ${s.w4.wallMs.toFixed(0)} ms | ${s.w3.cpuMsPerStep.toFixed(3)} ms |`,
  );
  // W1 and W2 against graphile-worker's figures from the same rotation; W3, W4 and CPU against its only run.
  const ratios = r.systems
    .filter((s) => s !== peer)
    .map(
      (s) =>
        `| ${s.label} / graphile-worker | ${ratio(s.w1.p50, s.peer.w1)} (target ≤ 0.5x) | ${ratio(s.w2.p50, s.peer.w2)} (≤ 0.5x) | ${ratio(s.w3.stepsPerSec, peer.w3.stepsPerSec)} (≥ 2x) | ${ratio(s.w4.wallMs, peer.w4.wallMs)} (≤ 0.5x) | ${ratio(s.w3.cpuMsPerStep, peer.w3.cpuMsPerStep)} (≤ 0.5x) |`,
    );
  const tasker = r.systems.find((s) => s.label === 'Tasker (default)')!;
  const four = r.systems.find((s) => s !== peer && s !== tasker);
  return [
    '| system | W1 linear-4 p50 | W2 diamond-4 p50 | W3 steps/s | W4 1→200→1 wall | server CPU per step (W3) |',
    '| --- | --- | --- | --- | --- | --- |',
    ...rows,
    ...ratios,
    '',
    ...(four
      ? [
          `W1 and W2 of ${four.label} come from a rotation of its own with graphile-worker, which ran W1 in ` +
            `${four.peer.w1.toFixed(2)} ms and W2 in ${four.peer.w2.toFixed(2)} ms there; its ratios are to those.`,
          '',
        ]
      : []),
    'Physical floor, one durable one-row commit, measured like the run it is compared with (target: linear-4 p50 ≤ 10x):',
    `- in the W1 rotation (a commit, a Tasker run, a graphile-worker run, ...): p50 ${r.floor.rotation.toFixed(3)} ms; ` +
      `${tasker.label} W1 p50 = ${ratio(tasker.w1.p50, r.floor.rotation)} it.`,
    `- back to back: p50 ${r.floor.backToBack.toFixed(3)} ms; ${tasker.label} W1 run back to back, alone, ` +
      `p50 ${r.w1BackToBack.toFixed(2)} ms = ${ratio(r.w1BackToBack, r.floor.backToBack)} it.`,
    `- (not like with like, the ratio reported until 2026-12-04: W1 in the rotation / the commit back to back = ` +
      `${ratio(tasker.w1.p50, r.floor.backToBack)}.)`,
    '',
    'p95 (W1, W2): ' +
      r.systems.map((s) => `${s.label} ${s.w1.p95.toFixed(2)} / ${s.w2.p95.toFixed(2)} ms`).join(', ') +
      '.',
  ];
}
