/**
 * `npm run bench -- --only processes`: throughput with 1, 2 and 4 worker processes against one database. The
 * tasks are created by an orchestrator in this process (which has no worker, so root steps are notified and
 * claimed); each worker runs in a process of its own (bench/peers/worker-process.ts) with the default
 * configuration. On a 2-core machine more processes than cores compete with the server for CPU: the figures
 * show what one database sustains, not linear scaling.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import type pg from 'pg';
import { loadConfig } from '../../src/config/index.js';
import { createOrchestrator } from '../../src/orchestration/orchestrator.js';
import { BackendCpu } from './measure.js';
import { createDatabase, migrated } from './run-peers.js';
import { LINEAR4 } from './shapes.js';
import { taskFinishedWaiter, templateOf } from './tasker.js';

export interface ProcessesRow {
  processes: number;
  seconds: number;
  stepsPerSec: number;
  cpuMsPerStep: number;
}

const WORKER_SCRIPT = fileURLToPath(new URL('./worker-process.ts', import.meta.url));

async function startWorkerProcess(url: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', WORKER_SCRIPT, url], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  while (!out.includes('ready')) {
    if (child.exitCode !== null) throw new Error(`worker process exited with ${child.exitCode}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return child;
}

export async function runProcesses(options: {
  admin: pg.Client;
  serverUrl: string;
  quick: boolean;
  log: (line: string) => void;
}): Promise<ProcessesRow[]> {
  const { admin, serverUrl, quick, log } = options;
  const tasks = quick ? 200 : 2000;
  const rows: ProcessesRow[] = [];
  for (const n of [1, 2, 4]) {
    const db = await migrated(await createDatabase(admin, serverUrl, `procs${n}`));
    const config = loadConfig({
      environment: 'production',
      env: { DATABASE_URL: db.url },
      overrides: { common: { logging: { level: 'silent' } } },
    });
    const orchestrator = createOrchestrator({ config });
    await orchestrator.registerTemplate(templateOf(LINEAR4));
    await orchestrator.start();
    const finished = taskFinishedWaiter(db.url);
    await finished.start();
    const workers: ChildProcess[] = [];
    try {
      for (let i = 0; i < n; i++) workers.push(await startWorkerProcess(db.url));
      const submit = async (count: number, offset: number): Promise<void> => {
        const created = await Promise.all(
          Array.from({ length: count }, (_, i) =>
            orchestrator.createTask({ namespace: 'peers', name: LINEAR4.name, context: { i: offset + i } }),
          ),
        );
        await Promise.all(created.map((c) => finished.wait(c.taskUuid)));
      };
      await submit(20, 0);
      const cpu = new BackendCpu(admin, db.name);
      await cpu.start();
      const t0 = performance.now();
      await submit(tasks, 1000);
      const seconds = (performance.now() - t0) / 1000;
      const steps = tasks * 4;
      const row = {
        processes: n,
        seconds,
        stepsPerSec: steps / seconds,
        cpuMsPerStep: (await cpu.stopMs()) / steps,
      };
      rows.push(row);
      log(
        `[${n} worker process(es)] ${tasks} linear-4 at once: ${seconds.toFixed(2)} s, ${row.stepsPerSec.toFixed(0)} steps/s, server CPU ${row.cpuMsPerStep.toFixed(3)} ms/step`,
      );
    } finally {
      for (const w of workers) {
        w.kill('SIGTERM');
        if (w.exitCode === null) await once(w, 'exit');
      }
      await finished.end();
      await orchestrator.stop();
      await admin.query(`DROP DATABASE ${db.name} WITH (FORCE)`);
    }
  }
  return rows;
}

export function processesMarkdown(rows: readonly ProcessesRow[]): string[] {
  return [
    '| worker processes | wall time | steps/s | server CPU per step |',
    '| --- | --- | --- | --- |',
    ...rows.map(
      (r) =>
        `| ${r.processes} | ${r.seconds.toFixed(2)} s | ${r.stepsPerSec.toFixed(0)} | ${r.cpuMsPerStep.toFixed(3)} ms |`,
    ),
  ];
}
