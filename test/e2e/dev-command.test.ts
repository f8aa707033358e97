import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../support/db.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const bin = `${root}scripts/tasker-from-source.js`;

describe('tasker dev (what `npm run dev` runs)', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await db?.drop();
  });

  it('runs one task of every example, prints each step and each result, and exits 0', () => {
    const res = spawnSync(process.execPath, [bin, 'dev'], {
      cwd: root,
      env: { ...process.env, DATABASE_URL: db.url, TASKER_ENV: 'development' },
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(res.status, res.stderr).toBe(0);
    const out = res.stdout;
    expect(out).toMatch(/step\s+linear_workflow\s+linear_step_1\s+attempt 1\s+[\d.]+ ms\s+ok/);
    expect(out).toMatch(
      /step\s+order_fulfillment\s+process_payment\s+attempt 1\s+[\d.]+ ms\s+failed \(GATEWAY_503/,
    );
    expect(out).toMatch(/step\s+order_fulfillment\s+process_payment\s+attempt 2\s+[\d.]+ ms\s+ok/);
    expect(out).toContain('task  linear_workflow        complete  {"linear_step_4":{"value":65536}}');
    expect(out).toContain('task  diamond_workflow       complete  {"diamond_end":{"value":80}}');
    expect(out).toMatch(/task {2}complex_dag_workflow {3}complete/);
    expect(out).toMatch(/task {2}tree_workflow {10}complete/);
    expect(out).toContain('"tracking_number":"TRK-A-1001"');
    expect(out).toContain('all example tasks complete');
    // Each branch of the approval decision, and the CSV in 5 batches.
    expect(out).toContain('"approvals":["auto_approve"],"request_id":"EXP-1"');
    expect(out).toContain('"approvals":["manager_approval"],"request_id":"EXP-2"');
    expect(out).toContain('"approvals":["manager_approval","finance_review"],"request_id":"EXP-3"');
    expect(out).toMatch(
      /task {2}csv_processing {9}complete {2}\{"aggregate_results":\{"rows":1000,"batches":5,/,
    );
    expect(out).toMatch(/step\s+csv_processing\s+process_rows_004\s+attempt 1\s+[\d.]+ ms\s+ok/);
    // 4 + 4 + 7 + 8 + 4 steps plus the payment retry; approvals 4 + 4 + 5 (skipped steps never run); CSV 1 + 5 + 1
    expect(out.match(/^ {2}step /gm)).toHaveLength(48);
  });

  it('--keep-running stays up after the examples and stops cleanly on SIGTERM', async () => {
    const child = spawn(process.execPath, [bin, 'dev', '--keep-running'], {
      cwd: root,
      // Any free port: the API (and the dashboard line) must come up whatever else listens here.
      env: { ...process.env, DATABASE_URL: db.url, TASKER_ENV: 'development', TASKER_API_PORT: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        if (out.includes('running; create tasks')) resolve();
      });
      child.once('exit', (code) => reject(new Error(`exited early (${code}): ${out}`)));
    });
    expect(child.exitCode).toBeNull();
    // With the API up, dev says where the dashboard is (or that it needs `npm run build` first).
    const api = /^API listening on (http:\/\/\S+)/m.exec(out)?.[1];
    expect(api, out).toBeDefined();
    expect(out).toMatch(
      new RegExp(`^Dashboard(: ${api}/ui| not built: run \`npm run build\` to serve it at ${api}/ui)$`, 'm'),
    );
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  });
});
