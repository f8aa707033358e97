-- ---------------------------------------------------------------------------------------------------------
-- Re-run a task from one of its steps (an operator action): the step and every step below it (its transitive
-- dependents) run again; every other step keeps its state and result. In one transaction:
--   * refused (TK410) for a cancelled task, a task that is still moving (only complete, resolved_manually,
--     error, blocked_by_failures and waiting_for_retry tasks are re-run), while a step below is running
--     (enqueued or in a worker's hands), and for a skipped step whose skip is decided above it;
--   * batch instances created by a batchable step below are removed with their audit rows (the batchable step
--     expands again when it completes); a batch instance below whose batchable step is not gets its siblings
--     that a fail_fast failure cancelled back too, so the convergence step below them can run;
--   * steps below that a skipped step or a decision above the re-run skipped stay skipped;
--   * every other step below goes back to pending with attempts 0 and no result or checkpoint, audited as
--     `Rerun` with what it had (previous_state, previous_attempts, previous_results, previous_checkpoint);
--   * dependency counters below are recounted from the parents' states, the task is re-evaluated
--     (reevaluate_task: ready steps enqueued, the task moved on, `Rerun` from complete or resolved_manually,
--     `Resume` otherwise) and an open dead-letter entry of a failed task is closed.
-- Returns the step's and the task's new states, how many steps went back to pending and how many batch instances
-- were removed.
-- ---------------------------------------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION tasker.rerun_from_step(p_task uuid, p_step uuid, p_reason text, p_by text, p_processor text)
 RETURNS TABLE(step_state text, task_state text, steps_reset integer, steps_removed integer)
 LANGUAGE plpgsql
AS $function$
#variable_conflict use_column
DECLARE
  v_task record;
  v_origin record;
  v_below uuid[];
  v_removed uuid[];
  v_kept uuid[] := '{}';
  v_new uuid[];
  v_reset uuid[];
  v_stale uuid[];
  v_running text;
  v_meta jsonb;
  v_after text;
BEGIN
  IF p_reason IS NULL OR btrim(p_reason) = '' THEN
    RAISE EXCEPTION 'a reason is required to re-run a task from a step' USING ERRCODE = 'TK422';
  END IF;
  SELECT t.state, t.namespace INTO v_task FROM tasker.tasks t WHERE t.task_uuid = p_task FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'task % not found', p_task USING ERRCODE = 'TK405';
  END IF;
  SELECT s.step_uuid, s.name INTO v_origin FROM tasker.workflow_steps s
  WHERE s.step_uuid = p_step AND s.task_uuid = p_task;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'step % not found in task %', p_step, p_task USING ERRCODE = 'TK406';
  END IF;
  IF v_task.state = 'cancelled' THEN
    RAISE EXCEPTION 'task % is cancelled; a cancelled task is not re-run (create a new task instead)', p_task
      USING ERRCODE = 'TK410';
  ELSIF v_task.state NOT IN ('complete', 'resolved_manually', 'error', 'blocked_by_failures', 'waiting_for_retry') THEN
    RAISE EXCEPTION 'task % is %; a task is re-run from a step once it is complete, resolved, failed (error), '
                    'blocked by failures or waiting for a retry', p_task, v_task.state USING ERRCODE = 'TK410';
  END IF;

  -- The origin and everything below it, locked in uuid order (as every writer of the task's steps locks).
  SELECT array_agg(l.step_uuid) INTO v_below FROM (
    SELECT s.step_uuid FROM tasker.workflow_steps s
    WHERE s.step_uuid IN (
      WITH RECURSIVE below(step_uuid) AS (
        SELECT p_step
        UNION
        SELECT e.to_step_uuid FROM below b JOIN tasker.workflow_step_edges e ON e.from_step_uuid = b.step_uuid
      ) SELECT below.step_uuid FROM below)
    ORDER BY s.step_uuid
    FOR UPDATE OF s
  ) l;

  SELECT format('%s step(s) below %s are running: %s; re-run once they have finished', count(*), v_origin.name,
                array_to_string((array_agg(format('%s (%s)', s.name, s.state) ORDER BY s.name))[1:5], ', '))
  INTO v_running
  FROM tasker.workflow_steps s
  WHERE s.step_uuid = ANY(v_below)
    AND s.state IN ('enqueued', 'in_progress', 'enqueued_for_orchestration', 'enqueued_as_error_for_orchestration')
  HAVING count(*) > 0;
  IF v_running IS NOT NULL THEN
    RAISE EXCEPTION '%', v_running USING ERRCODE = 'TK410';
  END IF;

  -- Batch instances of a batchable step below: it expands again when it completes.
  v_removed := ARRAY(
    SELECT DISTINCT w.step_uuid FROM tasker.workflow_steps w
    JOIN tasker.workflow_step_edges e ON e.to_step_uuid = w.step_uuid
    JOIN tasker.workflow_steps b ON b.step_uuid = e.from_step_uuid
    WHERE w.step_uuid = ANY(v_below) AND w.step_type = 'batch_worker'
      AND b.step_type = 'batchable' AND b.step_uuid = ANY(v_below));

  -- A batch instance below whose batchable step is not: its siblings that a fail_fast failure cancelled run
  -- again too (they are parents of the convergence step below, which could not run without them).
  v_below := v_below || ARRAY(
    SELECT DISTINCT sib.step_uuid FROM tasker.workflow_steps w
    JOIN tasker.workflow_step_edges up ON up.to_step_uuid = w.step_uuid
    JOIN tasker.workflow_step_edges down ON down.from_step_uuid = up.from_step_uuid
    JOIN tasker.workflow_steps sib ON sib.step_uuid = down.to_step_uuid
    WHERE w.step_uuid = ANY(v_below) AND NOT (w.step_uuid = ANY(v_removed)) AND w.step_type = 'batch_worker'
      AND sib.step_type = 'batch_worker' AND sib.state = 'cancelled' AND NOT (sib.step_uuid = ANY(v_below)));

  -- Steps below that stay skipped: a skipped parent outside the re-run (or one that stays skipped), or a
  -- decision above the re-run that did not choose them; a convergence step when every parent stays skipped.
  LOOP
    v_new := ARRAY(
      SELECT c.step_uuid FROM tasker.workflow_steps c
      WHERE c.step_uuid = ANY(v_below) AND c.state = 'skipped' AND NOT (c.step_uuid = ANY(v_kept))
        AND CASE WHEN c.step_type = 'deferred_convergence' THEN NOT EXISTS (
              SELECT 1 FROM tasker.workflow_step_edges e JOIN tasker.workflow_steps p ON p.step_uuid = e.from_step_uuid
              WHERE e.to_step_uuid = c.step_uuid
                AND NOT (p.step_uuid = ANY(v_kept) OR (p.state = 'skipped' AND NOT (p.step_uuid = ANY(v_below)))))
            ELSE EXISTS (
              SELECT 1 FROM tasker.workflow_step_edges e JOIN tasker.workflow_steps p ON p.step_uuid = e.from_step_uuid
              WHERE e.to_step_uuid = c.step_uuid
                AND (p.step_uuid = ANY(v_kept)
                     OR (NOT (p.step_uuid = ANY(v_below))
                         AND (p.state = 'skipped'
                              OR (p.step_type = 'decision' AND p.state = 'complete'
                                  AND jsonb_typeof(p.results #> '{result,decision_point_outcome}') = 'object'
                                  AND coalesce(NOT ((p.results #> '{result,decision_point_outcome,step_names}')
                                                    ? c.name::text), true)))))) END);
    EXIT WHEN cardinality(v_new) = 0;
    v_kept := v_kept || v_new;
  END LOOP;
  IF p_step = ANY(v_kept) THEN
    RAISE EXCEPTION 'step % was skipped by a decision or a skipped step above it; re-run from that decision instead',
      v_origin.name USING ERRCODE = 'TK410';
  END IF;

  v_reset := ARRAY(SELECT u FROM unnest(v_below) u WHERE NOT (u = ANY(v_removed)) AND NOT (u = ANY(v_kept)));
  v_meta := jsonb_build_object('action', 'rerun_from', 'reason', p_reason, 'by', p_by,
                               'origin_step_uuid', p_step, 'origin_step_name', v_origin.name,
                               'steps_reset', cardinality(v_reset), 'steps_removed', cardinality(v_removed));
  -- Messages a fail_fast cancellation left behind for a step that runs again, or of a removed batch instance:
  -- a second message for a step would start it twice.
  v_stale := v_removed || ARRAY(SELECT s.step_uuid FROM tasker.workflow_steps s
                                WHERE s.step_uuid = ANY(v_reset) AND s.state = 'cancelled');
  IF cardinality(v_stale) > 0 THEN
    DELETE FROM tasker.queue_messages m
    WHERE m.queue_name = tasker.worker_queue_name(v_task.namespace) AND (m.message->>'step_uuid')::uuid = ANY(v_stale);
  END IF;

  -- Audit rows first (they record what each step had), then the reset.
  WITH last AS (
    -- each step's last audit row (ADR 0013)
    SELECT l.step_uuid, l.to_state, l.sort_key, s.attempts, s.results, s.checkpoint
    FROM tasker.workflow_steps s
    CROSS JOIN LATERAL (SELECT t.step_uuid, t.to_state, t.sort_key FROM tasker.workflow_step_transitions t
                        WHERE t.step_uuid = s.step_uuid ORDER BY t.sort_key DESC LIMIT 1) l
    WHERE s.step_uuid = ANY(v_reset) AND s.state <> 'pending'
  )
  INSERT INTO tasker.workflow_step_transitions (step_uuid, from_state, to_state, event, sort_key, metadata,
                                                processor)
  SELECT d.step_uuid, d.to_state, 'pending', 'Rerun', d.sort_key + 1,
         v_meta - 'steps_reset' - 'steps_removed'
           || jsonb_build_object('previous_state', d.to_state, 'previous_attempts', d.attempts,
                                 'previous_results', d.results)
           || CASE WHEN d.checkpoint IS NULL THEN '{}'::jsonb
                   ELSE jsonb_build_object('previous_checkpoint', d.checkpoint) END,
         p_processor
  FROM last d;

  UPDATE tasker.workflow_steps s
  SET state = 'pending', attempts = 0, results = NULL, checkpoint = NULL, next_retry_at = NULL, processed_at = NULL,
      last_attempted_at = NULL, pending_parents = 0, skipped_parents = 0, updated_at = now()
  WHERE s.step_uuid = ANY(v_reset);

  IF cardinality(v_removed) > 0 THEN
    -- No foreign key cascades (ADR 0012): the removed steps' edges and audit rows go with them here.
    DELETE FROM tasker.workflow_step_edges e WHERE e.from_step_uuid = ANY(v_removed);
    DELETE FROM tasker.workflow_step_edges e WHERE e.to_step_uuid = ANY(v_removed);
    DELETE FROM tasker.workflow_step_transitions t WHERE t.step_uuid = ANY(v_removed);
    DELETE FROM tasker.workflow_steps s WHERE s.step_uuid = ANY(v_removed);
  END IF;

  -- Dependency counters from the parents' states: done parents (complete, resolved, a tolerated failure) release
  -- a step; a convergence step also counts a skipped parent as settled.
  UPDATE tasker.workflow_steps c SET pending_parents = x.pending, skipped_parents = x.skipped
  FROM (
    SELECT e.to_step_uuid AS step_uuid,
           count(*) FILTER (WHERE NOT (p.state IN ('complete', 'resolved_manually')
                                       OR (p.state = 'error' AND p.tolerate_failure)
                                       OR (k.step_type = 'deferred_convergence' AND p.state = 'skipped')))::int AS pending,
           count(*) FILTER (WHERE k.step_type = 'deferred_convergence' AND p.state = 'skipped')::int AS skipped
    FROM tasker.workflow_step_edges e
    JOIN tasker.workflow_steps p ON p.step_uuid = e.from_step_uuid
    JOIN tasker.workflow_steps k ON k.step_uuid = e.to_step_uuid
    WHERE e.to_step_uuid = ANY(v_reset)
    GROUP BY e.to_step_uuid
  ) x
  WHERE c.step_uuid = ANY(v_reset) AND c.step_uuid = x.step_uuid;

  UPDATE tasker.tasks t SET completed_at = NULL, error = NULL WHERE t.task_uuid = p_task;
  v_after := tasker.reevaluate_task(p_task, p_processor, v_meta);
  RETURN QUERY SELECT s.state, v_after, cardinality(v_reset), cardinality(v_removed)
  FROM tasker.workflow_steps s WHERE s.step_uuid = p_step;
END $function$;
