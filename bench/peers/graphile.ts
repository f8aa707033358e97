/**
 * graphile-worker running a DAG the usual way: one job per step; a step's job, when its handler has run, adds
 * its ready dependents with `graphile_worker.add_jobs` in one transaction with its bookkeeping (a counter row per
 * join, decremented by each parent; the parent that brings it to zero adds the join's job). LISTEN/NOTIFY on
 * (graphile-worker's default), `concurrency` handlers. The bookkeeping is one SQL function call per step (fewer
 * round trips than an application would usually make, so the peer's figures are if anything flattering).
 * A run is finished when its last step's transaction commits; it announces that on `bench_done`.
 */
import { Logger, run, type Runner } from 'graphile-worker';
import pg from 'pg';
import { edges, type Shape } from './shapes.js';
import { NotificationWaiter } from './waiter.js';
import type { PeerSystem } from './system.js';

const SETUP = `
CREATE TABLE IF NOT EXISTS bench_runs (id bigserial PRIMARY KEY, shape text NOT NULL, finished_at timestamptz);
CREATE TABLE IF NOT EXISTS bench_joins (run_id bigint NOT NULL, step text NOT NULL, remaining int NOT NULL,
  PRIMARY KEY (run_id, step));
CREATE OR REPLACE FUNCTION bench_start_run(p_shape text, p_joins text[], p_counts int[], p_roots text[])
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE v_run bigint;
BEGIN
  INSERT INTO bench_runs (shape) VALUES (p_shape) RETURNING id INTO v_run;
  INSERT INTO bench_joins (run_id, step, remaining) SELECT v_run, j, c FROM unnest(p_joins, p_counts) AS u(j, c);
  PERFORM graphile_worker.add_jobs(ARRAY(
    SELECT ROW('step', json_build_object('r', v_run, 's', p_shape, 'n', r), NULL, NULL, NULL, NULL, NULL, NULL)::graphile_worker.job_spec
    FROM unnest(p_roots) AS r));
  RETURN v_run;
END $$;
CREATE OR REPLACE FUNCTION bench_step_done(p_run bigint, p_shape text, p_single text[], p_joins text[])
RETURNS void LANGUAGE plpgsql AS $$
DECLARE v_ready text[];
BEGIN
  IF cardinality(p_single) = 0 AND cardinality(p_joins) = 0 THEN
    UPDATE bench_runs SET finished_at = now() WHERE id = p_run;
    PERFORM pg_notify('bench_done', p_run::text);
    RETURN;
  END IF;
  WITH dec AS (
    UPDATE bench_joins SET remaining = remaining - 1 WHERE run_id = p_run AND step = ANY(p_joins)
    RETURNING step, remaining)
  SELECT p_single || coalesce(array_agg(step) FILTER (WHERE remaining = 0), '{}') INTO v_ready FROM dec;
  IF cardinality(v_ready) > 0 THEN
    PERFORM graphile_worker.add_jobs(ARRAY(
      SELECT ROW('step', json_build_object('r', p_run, 's', p_shape, 'n', r), NULL, NULL, NULL, NULL, NULL, NULL)::graphile_worker.job_spec
      FROM unnest(v_ready) AS r));
  END IF;
END $$;
`;

interface StepPayload {
  r: number;
  s: string;
  n: string;
}

export async function startGraphileWorker(
  url: string,
  shapes: readonly Shape[],
  concurrency: number,
): Promise<PeerSystem> {
  const byName = new Map(shapes.map((s) => [s.name, { shape: s, ...edges(s) }]));
  // Our own pool, ended when the runner stops (graphile-worker leaves a pool it was given open).
  const workerPool = new pg.Pool({ connectionString: url, max: concurrency + 2 });
  workerPool.on('error', () => {});
  workerPool.on('connect', (client) => client.on('error', () => {}));
  const runner: Runner = await run({
    pgPool: workerPool,
    concurrency,
    noHandleSignals: true,
    logger: new Logger(() => () => {}),
    taskList: {
      step: async (payload, helpers) => {
        const p = payload as StepPayload;
        const g = byName.get(p.s)!;
        const children = g.children.get(p.n)!;
        const single = children.filter((c) => !g.joins.has(c));
        const joins = children.filter((c) => g.joins.has(c));
        await helpers.withPgClient((c) =>
          c.query('SELECT bench_step_done($1, $2, $3, $4)', [p.r, p.s, single, joins]),
        );
      },
    },
  });
  // The runner has installed its schema; now the bookkeeping functions that call it.
  const setup = new pg.Client({ connectionString: url });
  await setup.connect();
  await setup.query(SETUP);
  await setup.end();
  const submitter = new pg.Pool({ connectionString: url, max: 10 });
  const done = new NotificationWaiter(url, 'bench_done', (payload) => [payload]);
  await done.start();
  const submit = async (shape: Shape): Promise<string> => {
    const g = byName.get(shape.name)!;
    const roots = shape.steps.filter((s) => s.parents.length === 0).map((s) => s.name);
    const { rows } = await submitter.query<{ id: string }>('SELECT bench_start_run($1, $2, $3, $4) AS id', [
      shape.name,
      [...g.joins.keys()],
      [...g.joins.values()],
      roots,
    ]);
    return String(rows[0]!.id);
  };
  return {
    label: 'graphile-worker',
    run: async (shape) => done.wait(await submit(shape)),
    runMany: async (shape, count) => {
      const ids = await Promise.all(Array.from({ length: count }, () => submit(shape)));
      await Promise.all(ids.map((id) => done.wait(id)));
    },
    stop: async () => {
      await runner.stop();
      await workerPool.end();
      await submitter.end();
      await done.end();
    },
  };
}
