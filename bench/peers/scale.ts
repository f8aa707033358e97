/**
 * `npm run bench -- --only scale`: the cost of a step as the tables grow. Tasker (default configuration) on one
 * database that holds 10,000, then 100,000, then 1,000,000 finished linear-4 tasks (cloned, bench/peers/fill.ts):
 * at each size, linear-4 latency (one task at a time) and a burst of linear-4 tasks with the server CPU per step.
 * Flat figures across sizes mean no statement on the per-step path scans what finished tasks left behind.
 */
import type pg from 'pg';
import { fillFinishedTasks } from './fill.js';
import { BackendCpu } from './measure.js';
import { createDatabase, latency, migrated } from './run-peers.js';
import { LINEAR4 } from './shapes.js';
import { startTasker } from './tasker.js';

export interface ScaleRow {
  finishedTasks: number;
  p50: number;
  p95: number;
  stepsPerSec: number;
  cpuMsPerStep: number;
}

export async function runScale(options: {
  admin: pg.Client;
  serverUrl: string;
  quick: boolean;
  log: (line: string) => void;
}): Promise<ScaleRow[]> {
  const { admin, serverUrl, quick, log } = options;
  const sizes = quick ? [1_000, 10_000] : [10_000, 100_000, 1_000_000];
  const burst = quick ? 200 : 1000;
  const db = await migrated(await createDatabase(admin, serverUrl, 'scale'));
  const system = await startTasker(db.url, [LINEAR4], 'Tasker (default)');
  const rows: ScaleRow[] = [];
  try {
    await system.runMany(LINEAR4, 20, 0);
    for (const size of sizes) {
      const t0 = performance.now();
      const have = await fillFinishedTasks(db.url, size);
      log(`filled to ${have} finished tasks in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
      const lat = await latency(system, LINEAR4, quick ? 10 : 30, 3);
      const cpu = new BackendCpu(admin, db.name);
      await cpu.start();
      const t1 = performance.now();
      await system.runMany(LINEAR4, burst, size);
      const seconds = (performance.now() - t1) / 1000;
      const steps = burst * 4;
      const row = {
        finishedTasks: have,
        p50: lat.p50,
        p95: lat.p95,
        stepsPerSec: steps / seconds,
        cpuMsPerStep: (await cpu.stopMs()) / steps,
      };
      rows.push(row);
      log(
        `[${have} finished] linear-4 p50 ${row.p50.toFixed(2)} ms p95 ${row.p95.toFixed(2)} ms; ${burst} at once: ${row.stepsPerSec.toFixed(0)} steps/s, server CPU ${row.cpuMsPerStep.toFixed(3)} ms/step`,
      );
    }
  } finally {
    await system.stop();
    await admin.query(`DROP DATABASE ${db.name} WITH (FORCE)`);
  }
  return rows;
}

export function scaleMarkdown(rows: readonly ScaleRow[]): string[] {
  return [
    '| finished tasks in the tables | linear-4 p50 | linear-4 p95 | burst steps/s | server CPU per step |',
    '| --- | --- | --- | --- | --- |',
    ...rows.map(
      (r) =>
        `| ${r.finishedTasks.toLocaleString('en-US')} | ${r.p50.toFixed(2)} ms | ${r.p95.toFixed(2)} ms | ${r.stepsPerSec.toFixed(0)} | ${r.cpuMsPerStep.toFixed(3)} ms |`,
    ),
  ];
}
