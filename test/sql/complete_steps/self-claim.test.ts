/**
 * The one-transaction path (ADR 0009): complete_steps stores a worker's results, resolves them and claims for
 * the worker the dependents they released (within its limit, on its queues), and create_task claims root steps
 * for a worker of the creating process. Each test runs in a rolled-back transaction.
 */
import type pg from 'pg';
import { describe, expect, it } from 'vitest';
import { workerQueueName } from '../../../src/contract/names.js';
import { registerTemplate } from '../../../src/orchestration/template-registry.js';
import { defineTemplate } from '../../../src/templates/index.js';
import { checkedTrail, sqlTestDatabase, taskOf } from '../support.js';

const ns = 'sql_self_claim';
const chain = defineTemplate({ namespace: ns, name: 'chain3', version: '1.0.0' })
  .step('a', { handler: 'h' })
  .step('b', { handler: 'h', dependsOn: ['a'] })
  .step('c', { handler: 'h', dependsOn: ['b'] })
  .build();
const fanOut = defineTemplate({ namespace: ns, name: 'fan4', version: '1.0.0' })
  .step('root', { handler: 'h' })
  .step('x1', { handler: 'h', dependsOn: ['root'] })
  .step('x2', { handler: 'h', dependsOn: ['root'] })
  .step('x3', { handler: 'h', dependsOn: ['root'] })
  .step('x4', { handler: 'h', dependsOn: ['root'] })
  .build();

const { inRollback } = sqlTestDatabase();
const QUEUE = workerQueueName(ns);

interface Claimed {
  msg_id: number;
  step_uuid: string;
  step_name: string;
  attempt: number;
  dependency_results: Record<string, unknown>;
  context: Record<string, unknown>;
}

/** Claims the task's root step with claim_steps, as the claim loop would. */
async function claimRoot(c: pg.PoolClient): Promise<{ msg_id: string; step_uuid: string; attempt: number }> {
  const res = await c.query<{ msg_id: string; step_uuid: string; attempt: number }>(
    'SELECT msg_id, step_uuid, attempt FROM tasker.claim_steps($1, 10, 30, $2)',
    [QUEUE, 'w1'],
  );
  expect(res.rowCount).toBe(1);
  return res.rows[0]!;
}

/** complete_steps for one successful result, resolving and claiming up to `limit` for worker w1. */
async function complete(
  c: pg.PoolClient,
  step: { msg_id: string | number; step_uuid: string; attempt: number },
  result: unknown,
  limit: number,
): Promise<{ applied: boolean; claimed: Claimed[] | null }> {
  const payload = [
    {
      step_uuid: step.step_uuid,
      msg_id: String(step.msg_id),
      attempt: step.attempt,
      success: true,
      results: { success: true, result, metadata: {} },
    },
  ];
  const res = await c.query<{ applied: boolean; claimed: Claimed[] | null }>(
    'SELECT applied, claimed FROM tasker.complete_steps($1, $2, true, $3, $4, 30)',
    [JSON.stringify(payload), 'w1', [QUEUE], limit],
  );
  return res.rows[0]!;
}

const trail = checkedTrail;

describe('complete_steps claiming what it released', () => {
  it('completes a step and claims its dependent: in progress, leased, with its context and parent result', async () => {
    await inRollback(async (c) => {
      const t = await taskOf(c, chain);
      const root = await claimRoot(c);
      expect(root.step_uuid).toBe(t.step('a'));
      const done = await complete(c, root, { n: 1 }, 5);
      expect(done.applied).toBe(true);
      expect(done.claimed).toHaveLength(1);
      const next = done.claimed![0]!;
      expect(next).toMatchObject({ step_uuid: t.step('b'), step_name: 'b', attempt: 1 });
      expect(next.dependency_results).toEqual({ a: { n: 1 } });

      const row = await c.query<{ state: string; attempts: number }>(
        'SELECT state, attempts FROM tasker.workflow_steps WHERE step_uuid = $1',
        [t.step('b')],
      );
      expect(row.rows[0]).toEqual({ state: 'in_progress', attempts: 1 });
      // Its message is leased (not visible to other claimers) and read once.
      const msg = await c.query<{ leased: boolean; read_ct: number; queue_name: string }>(
        'SELECT vt > now() AS leased, read_ct, queue_name FROM tasker.queue_messages WHERE msg_id = $1',
        [next.msg_id],
      );
      expect(msg.rows[0]).toEqual({ leased: true, read_ct: 1, queue_name: QUEUE });
      const other = await c.query('SELECT * FROM tasker.claim_steps($1, 10, 30, $2)', [QUEUE, 'w2']);
      expect(other.rowCount).toBe(0);

      // The audit trails read as the state machine: a's result passed through orchestration, b was enqueued.
      expect(await trail(c, t.step('a'))).toEqual([
        'pending',
        'enqueued',
        'in_progress',
        'enqueued_for_orchestration',
        'complete',
      ]);
      expect(await trail(c, t.step('b'))).toEqual(['pending', 'enqueued', 'in_progress']);
    });
  });

  it('claims no more than the limit: the rest are enqueued and visible to every worker', async () => {
    await inRollback(async (c) => {
      await taskOf(c, fanOut);
      const root = await claimRoot(c);
      const done = await complete(c, root, {}, 2);
      const children = (
        await c.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM tasker.workflow_step_edges WHERE from_step_uuid = $1`,
          [root.step_uuid],
        )
      ).rows[0]!.n;
      expect(children).toBeGreaterThan(2);
      expect(done.claimed).toHaveLength(2);
      const states = await c.query<{ state: string; n: number }>(
        `SELECT state, count(*)::int AS n FROM tasker.workflow_steps
         WHERE step_uuid IN (SELECT to_step_uuid FROM tasker.workflow_step_edges WHERE from_step_uuid = $1)
         GROUP BY state ORDER BY state`,
        [root.step_uuid],
      );
      expect(states.rows).toEqual([
        { state: 'enqueued', n: children - 2 },
        { state: 'in_progress', n: 2 },
      ]);
      const others = await c.query('SELECT * FROM tasker.claim_steps($1, 100, 30, $2)', [QUEUE, 'w2']);
      expect(others.rowCount).toBe(children - 2);
    });
  });

  it('with a limit of 0, or for a queue it does not serve, claims nothing', async () => {
    await inRollback(async (c) => {
      const t = await taskOf(c, chain);
      const root = await claimRoot(c);
      const res = await c.query<{ claimed: unknown }>(
        'SELECT claimed FROM tasker.complete_steps($1, $2, true, $3, 5, 30)',
        [
          JSON.stringify([
            {
              step_uuid: root.step_uuid,
              msg_id: root.msg_id,
              attempt: 1,
              success: true,
              results: { success: true },
            },
          ]),
          'w1',
          ['worker_elsewhere_queue'],
        ],
      );
      expect(res.rows[0]!.claimed).toBeNull();
      const b = await c.query<{ state: string }>(
        'SELECT state FROM tasker.workflow_steps WHERE step_uuid = $1',
        [t.step('b')],
      );
      expect(b.rows[0]!.state).toBe('enqueued');
    });
  });
});

describe('create_task claiming root steps', () => {
  it('claims the root for the given worker and returns its context; without the option it is enqueued', async () => {
    await inRollback(async (c) => {
      await registerTemplate(c, chain);
      const claim = { claim: { queues: [QUEUE], limit: 4, lease_seconds: 30, worker: 'w1' } };
      const made = await c.query<{ task_uuid: string; claimed: Claimed[] | null }>(
        `SELECT task_uuid, claimed FROM tasker.create_task($1, $2, NULL, $3, $4, 'test')`,
        [ns, chain.name, JSON.stringify({ order: 7 }), JSON.stringify(claim)],
      );
      const { task_uuid, claimed } = made.rows[0]!;
      expect(claimed).toHaveLength(1);
      expect(claimed![0]).toMatchObject({ step_name: 'a', attempt: 1, context: { order: 7 } });
      const rows = await c.query<{ name: string; state: string }>(
        'SELECT name, state FROM tasker.workflow_steps WHERE task_uuid = $1 ORDER BY name',
        [task_uuid],
      );
      expect(rows.rows.map((r) => `${r.name}:${r.state}`)).toEqual([
        'a:in_progress',
        'b:pending',
        'c:pending',
      ]);
      const last = await c.query<{ processor: string; event: string }>(
        `SELECT processor, event FROM tasker.workflow_step_transitions WHERE step_uuid = $1
         ORDER BY sort_key DESC LIMIT 1`,
        [claimed![0]!.step_uuid],
      );
      expect(last.rows[0]).toEqual({ processor: 'w1', event: 'Start' });

      const plain = await c.query<{ task_uuid: string; claimed: unknown }>(
        `SELECT task_uuid, claimed FROM tasker.create_task($1, $2, NULL, '{}', '{}', 'test')`,
        [ns, chain.name],
      );
      expect(plain.rows[0]!.claimed).toBeNull();
      const root = await c.query<{ state: string }>(
        `SELECT state FROM tasker.workflow_steps WHERE task_uuid = $1 AND name = 'a'`,
        [plain.rows[0]!.task_uuid],
      );
      expect(root.rows[0]!.state).toBe('enqueued');
    });
  });

  it('claims the first roots in template order up to the limit, in the creating statement; the rest are visible', async () => {
    await inRollback(async (c) => {
      const twoRoots = defineTemplate({ namespace: ns, name: 'two_roots', version: '1.0.0' })
        .step('first', { handler: 'h' })
        .step('second', { handler: 'h' })
        .step('both', { handler: 'h', dependsOn: ['first', 'second'] })
        .build();
      await registerTemplate(c, twoRoots);
      const claim = { claim: { queues: [QUEUE], limit: 1, lease_seconds: 30, worker: 'w1' } };
      const made = await c.query<{ task_uuid: string; claimed: Claimed[] | null }>(
        `SELECT task_uuid, claimed FROM tasker.create_task($1, $2, NULL, '{}', $3, 'creator')`,
        [ns, twoRoots.name, JSON.stringify(claim)],
      );
      const { claimed } = made.rows[0]!;
      expect(claimed!.map((r) => [r.step_name, r.attempt])).toEqual([['first', 1]]);
      const trail = await c.query<{ to_state: string; processor: string }>(
        `SELECT to_state, processor FROM tasker.workflow_step_transitions WHERE step_uuid = $1
         ORDER BY sort_key`,
        [claimed![0]!.step_uuid],
      );
      expect(trail.rows).toEqual([
        { to_state: 'pending', processor: 'creator' },
        { to_state: 'enqueued', processor: 'creator' },
        { to_state: 'in_progress', processor: 'w1' },
      ]);
      const leased = await c.query<{ leased: boolean; read_ct: number }>(
        'SELECT vt > now() AS leased, read_ct FROM tasker.queue_messages WHERE msg_id = $1',
        [claimed![0]!.msg_id],
      );
      expect(leased.rows[0]).toEqual({ leased: true, read_ct: 1 });
      // The second root is enqueued and visible to every worker.
      const other = await c.query<{ step_name: string }>(
        'SELECT step_name FROM tasker.claim_steps($1, 10, 30, $2)',
        [QUEUE, 'w2'],
      );
      expect(other.rows.map((r) => r.step_name)).toEqual(['second']);
    });
  });
});

describe('create_task claimed contexts', () => {
  it('are exactly what claimed_step_contexts returns for the same steps (built without it, in the same statement)', async () => {
    await inRollback(async (c) => {
      const detailed = defineTemplate({ namespace: ns, name: 'detailed_roots', version: '2.1.0' })
        .step('fetch', {
          handler: 'h.fetch',
          timeoutMs: 1500,
          inputs: { url: 'https://example.test', n: [1, 2] },
        })
        .step('other', { handler: 'h.other', retry: { maxAttempts: 5 } })
        .step('sink', { handler: 'h', dependsOn: ['fetch', 'other'] })
        .build();
      await registerTemplate(c, detailed);
      const claim = { claim: { queues: [QUEUE], limit: 4, lease_seconds: 30, worker: 'w1' } };
      for (const trace of [
        {},
        { traceparent: `00-${'a'.repeat(32)}-${'b'.repeat(16)}-01`, tracestate: 'k=v' },
      ]) {
        const made = await c.query<{ claimed: (Claimed & { msg_id: number })[] }>(
          `SELECT claimed FROM tasker.create_task($1, $2, NULL, $3, $4, 'test')`,
          [
            ns,
            detailed.name,
            JSON.stringify({ order: 9, nested: { a: null } }),
            JSON.stringify({ ...claim, ...trace }),
          ],
        );
        const claimed = made.rows[0]!.claimed;
        expect(claimed.map((r) => r.step_name)).toEqual(['fetch', 'other']);
        const looked = await c.query<{ row: Record<string, unknown> }>(
          `SELECT to_jsonb(x) AS row FROM tasker.claimed_step_contexts($1::bigint[], $2::uuid[]) x ORDER BY x.msg_id`,
          [claimed.map((r) => r.msg_id), claimed.map((r) => r.step_uuid)],
        );
        expect(claimed).toEqual(looked.rows.map((r) => r.row));
      }
    });
  });
});
