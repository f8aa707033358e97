/**
 * Fills a Tasker database with finished tasks, fast: one finished linear-4 task (the seed) is cloned, rows and
 * audit trail alike, with new uuids, in statements of up to 50,000 tasks. Used to show that the cost of a step
 * does not grow with the tables.
 */
import pg from 'pg';

const CLONE = `
WITH seed AS (
  SELECT t.* FROM tasker.tasks t WHERE t.task_uuid = $2
), copies AS MATERIALIZED (
  SELECT g, tasker.uuid_generate_v7() AS task_uuid FROM generate_series(1, $1) g
), steps AS MATERIALIZED (
  SELECT c.g, c.task_uuid, w.step_uuid AS old_step, tasker.uuid_generate_v7() AS step_uuid
  FROM copies c CROSS JOIN tasker.workflow_steps w WHERE w.task_uuid = $2
), ins_tasks AS (
  INSERT INTO tasker.tasks (task_uuid, template_uuid, namespace, state, context, priority, steps_total,
    steps_remaining, steps_in_flight, tags, correlation_id, identity_hash, created_at, updated_at, completed_at,
    priority_head_start_ms)
  SELECT c.task_uuid, s.template_uuid, s.namespace, s.state, s.context, s.priority, s.steps_total,
    s.steps_remaining, s.steps_in_flight, s.tags, gen_random_uuid(), 'uuid:' || c.task_uuid, s.created_at,
    s.updated_at, s.completed_at, s.priority_head_start_ms
  FROM copies c CROSS JOIN seed s
), ins_steps AS (
  INSERT INTO tasker.workflow_steps (step_uuid, task_uuid, name, handler, state, pending_parents, attempts,
    max_attempts, retryable, retry_policy, timeout_ms, inputs, results, last_attempted_at, processed_at,
    created_at, updated_at, step_type)
  SELECT st.step_uuid, st.task_uuid, w.name, w.handler, w.state, w.pending_parents, w.attempts, w.max_attempts,
    w.retryable, w.retry_policy, w.timeout_ms, w.inputs, w.results, w.last_attempted_at, w.processed_at,
    w.created_at, w.updated_at, w.step_type
  FROM steps st JOIN tasker.workflow_steps w ON w.step_uuid = st.old_step
), ins_edges AS (
  INSERT INTO tasker.workflow_step_edges (from_step_uuid, to_step_uuid, name)
  SELECT f.step_uuid, t.step_uuid, e.name
  FROM tasker.workflow_step_edges e
  JOIN steps f ON f.old_step = e.from_step_uuid
  JOIN steps t ON t.old_step = e.to_step_uuid AND t.g = f.g
), ins_step_audit AS (
  INSERT INTO tasker.workflow_step_transitions (step_uuid, from_state, to_state, event, sort_key, metadata,
    processor, created_at)
  SELECT st.step_uuid, x.from_state, x.to_state, x.event, x.sort_key, x.metadata, x.processor, x.created_at
  FROM steps st JOIN tasker.workflow_step_transitions x ON x.step_uuid = st.old_step
)
INSERT INTO tasker.task_transitions (task_uuid, from_state, to_state, event, sort_key, metadata, processor,
  created_at)
SELECT c.task_uuid, x.from_state, x.to_state, x.event, x.sort_key, x.metadata, x.processor, x.created_at
FROM copies c CROSS JOIN tasker.task_transitions x WHERE x.task_uuid = $2`;

/** Adds finished tasks until the database holds `target` of them; returns how many there are. */
export async function fillFinishedTasks(url: string, target: number): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await fill(client, target);
  } finally {
    await client.end();
  }
}

async function fill(client: pg.Client, target: number): Promise<number> {
  const { rows } = await client.query<{ n: number; seed: string | null }>(
    `SELECT count(*)::int AS n, min(task_uuid::text) AS seed FROM tasker.tasks WHERE state = 'complete'`,
  );
  let have = rows[0]!.n;
  const seed = rows[0]!.seed;
  if (!seed) throw new Error('no finished task to clone: run a task first');
  while (have < target) {
    const batch = Math.min(50_000, target - have);
    await client.query(CLONE, [batch, seed]);
    have += batch;
  }
  // As autovacuum would after such growth; the engine's statements are planned generically anyway.
  await client.query('VACUUM ANALYZE tasker.tasks, tasker.workflow_steps, tasker.workflow_step_edges');
  return have;
}
