-- complete_steps' shortest path (ADR 0014): a batch of successes holding every step still to run in each of its
-- tasks (the claimed steps and the chained ones started with them, ADR 0011), so that every task completes here.
-- Nothing is released, claimed or enqueued: the steps complete, their messages are acknowledged, the tasks
-- complete, both get their audit paths, and the finish is announced. It leaves exactly what start_chained_steps
-- and settle_successes leave for the same batch (test/sql/settle_last_steps/), in two statements instead of
-- about fifteen.
-- The caller (complete_steps) has locked the tasks p_tasks; p_ids are the step uuids of p_results. Returns the
-- `finalized` groups of the tasks completed, or NULL, having changed nothing (the claimed steps stay locked, for
-- the general path that writes them next), when the batch is not such a batch:
-- a result that is not a success its step can take (a stale attempt, a chained step that may not start), a task
-- with a step left out, or a step with a dependent outside the batch (one already resolved by hand or skipped,
-- whose parent count the general path still lowers). The caller then takes the general path.
CREATE OR REPLACE FUNCTION tasker.settle_last_steps(p_results jsonb, p_ids uuid[], p_tasks uuid[], p_worker text)
 RETURNS jsonb
 LANGUAGE plpgsql
 SET plan_cache_mode TO 'force_generic_plan'
 SET enable_seqscan TO 'off'
 SET enable_mergejoin TO 'off'
 SET enable_hashjoin TO 'off'
 SET jit TO 'off'
AS $function$
#variable_conflict use_column
DECLARE
  v_fits boolean;
  v_finished text;
  v_events text;
  v_finalized jsonb;
  n_tasks int;
BEGIN
  -- The verdict. The claimed steps are locked: a lapsed lease is reclaimed (claim_steps) without the task lock,
  -- and a locked row is read as it is now, not as the statement's snapshot saw it. The chained steps are pending
  -- and their parents complete; only holders of the task lock change those.
  WITH input AS (
    SELECT jsonb_object_agg(((x->>'step_uuid')::uuid)::text, x) AS m, count(*)::int AS n,
           coalesce(array_agg((x->>'step_uuid')::uuid) FILTER (WHERE (x->>'chained')::boolean), '{}') AS chained
    FROM jsonb_array_elements(p_results) x
  ), locked AS (
    SELECT s.step_uuid, s.task_uuid, s.state, s.attempts, s.step_type, s.handler FROM tasker.workflow_steps s
    WHERE s.step_uuid = ANY(p_ids) AND NOT s.step_uuid = ANY((SELECT i.chained FROM input i)::uuid[])
    FOR NO KEY UPDATE OF s
  ), unlocked AS (
    SELECT s.step_uuid, s.task_uuid, s.state, s.attempts, s.step_type, s.handler FROM tasker.workflow_steps s
    WHERE s.step_uuid = ANY((SELECT i.chained FROM input i)::uuid[])
  ), checked AS (
    -- each step with its result (from the one-row map: no join of two sets, ADR 0004) and its task by key
    SELECT st.task_uuid, t.steps_remaining,
           coalesce((e.r->>'success')::boolean, false) AND st.task_uuid = ANY(p_tasks)
             AND t.state = 'steps_in_process'
             AND CASE WHEN coalesce((e.r->>'chained')::boolean, false)
                      THEN st.state = 'pending' AND st.attempts = 0 AND (e.r->>'attempt')::int = 1
                           AND st.step_type = 'standard' AND st.handler = e.r->>'handler'
                      ELSE st.state = 'in_progress' AND st.attempts = (e.r->>'attempt')::int
                           AND st.step_type NOT IN ('decision', 'batchable') END AS fits
    FROM (SELECT * FROM locked UNION ALL SELECT * FROM unlocked) st
    CROSS JOIN LATERAL (SELECT i.m->(st.step_uuid::text) AS r FROM input i) e
    CROSS JOIN LATERAL (SELECT t.state, t.steps_remaining FROM tasker.tasks t
                        WHERE t.task_uuid = st.task_uuid OFFSET 0) t
  ), per_task AS (
    -- a task whose batch rows are exactly the steps it has left
    SELECT bool_and(c.fits) AND count(*) = min(c.steps_remaining) AS fits FROM checked c GROUP BY c.task_uuid
  )
  SELECT (SELECT count(*) FROM checked) = i.n AND (SELECT bool_and(p.fits) FROM per_task p)
         AND NOT EXISTS (SELECT 1 FROM tasker.workflow_step_edges e
                         WHERE e.from_step_uuid = ANY(p_ids) AND NOT e.to_step_uuid = ANY(p_ids))
         AND NOT EXISTS (SELECT 1 FROM tasker.workflow_step_edges e
                         CROSS JOIN LATERAL (SELECT p.state FROM tasker.workflow_steps p
                                             WHERE p.step_uuid = e.from_step_uuid OFFSET 0) p
                         WHERE e.to_step_uuid = ANY(i.chained) AND NOT e.from_step_uuid = ANY(p_ids)
                           AND p.state <> 'complete')
  INTO v_fits
  FROM input i;
  IF NOT coalesce(v_fits, false) THEN RETURN NULL; END IF;

  -- The writes. Under the locks taken above, this statement's snapshot holds every row as it is, so the audit
  -- paths continue from the last rows it reads (ADR 0013). Paths, events and processor as log_step_paths and
  -- log_task_transitions write them for settle_successes.
  WITH input AS (
    SELECT (x->>'step_uuid')::uuid AS step_uuid, (x->>'msg_id')::bigint AS msg_id, x->'results' AS results,
           coalesce((x->>'chained')::boolean, false) AS chained
    FROM jsonb_array_elements(p_results) x
  ), done AS (
    UPDATE tasker.workflow_steps s
    SET state = 'complete', results = i.results, processed_at = now(), updated_at = now(),
        attempts = CASE WHEN i.chained THEN 1 ELSE s.attempts END,
        last_attempted_at = CASE WHEN i.chained THEN now() ELSE s.last_attempted_at END,
        pending_parents = CASE WHEN i.chained THEN 0 ELSE s.pending_parents END
    FROM input i WHERE s.step_uuid = i.step_uuid
    RETURNING s.task_uuid, i.chained
  ), acked AS (
    DELETE FROM tasker.queue_messages m WHERE m.msg_id = ANY(ARRAY(SELECT i.msg_id FROM input i))
  ), step_audit AS (
    INSERT INTO tasker.workflow_step_transitions (step_uuid, from_state, to_state, event, sort_key, processor)
    SELECT i.step_uuid, CASE WHEN p.k = 1 OR (p.k = 3 AND NOT i.chained) THEN l.to_state ELSE p.from_state END,
           p.to_state, p.event, l.sort_key + p.k - CASE WHEN i.chained THEN 0 ELSE 2 END, p_worker
    FROM input i
    CROSS JOIN LATERAL (SELECT t.sort_key, t.to_state FROM tasker.workflow_step_transitions t
                        WHERE t.step_uuid = i.step_uuid ORDER BY t.sort_key DESC LIMIT 1) l
    CROSS JOIN (VALUES (1, NULL, 'enqueued', 'Enqueue'), (2, 'enqueued', 'in_progress', 'Start'),
                       (3, 'in_progress', 'enqueued_for_orchestration', 'EnqueueForOrchestration'),
                       (4, 'enqueued_for_orchestration', 'complete', 'Complete')) p(k, from_state, to_state, event)
    WHERE i.chained OR p.k > 2
  ), per_task AS (
    SELECT d.task_uuid, count(*)::int AS completed, count(*) FILTER (WHERE NOT d.chained)::int AS claimed
    FROM done d GROUP BY d.task_uuid
  ), counted AS (
    UPDATE tasker.tasks t
    -- chained steps were never counted in flight: they start and finish here
    SET steps_remaining = t.steps_remaining - p.completed, steps_in_flight = t.steps_in_flight - p.claimed,
        state = 'complete', completed_at = now(), updated_at = now()
    FROM per_task p WHERE t.task_uuid = p.task_uuid
    RETURNING t.task_uuid, t.template_uuid
  ), task_audit AS (
    INSERT INTO tasker.task_transitions (task_uuid, from_state, to_state, event, sort_key, processor)
    SELECT k.task_uuid, CASE WHEN p.k = 1 THEN l.to_state ELSE 'evaluating_results' END, p.to_state, p.event,
           l.sort_key + p.k, p_worker
    FROM counted k
    CROSS JOIN LATERAL (SELECT t.sort_key, t.to_state FROM tasker.task_transitions t
                        WHERE t.task_uuid = k.task_uuid ORDER BY t.sort_key DESC LIMIT 1) l
    CROSS JOIN (VALUES (1, 'evaluating_results', 'StepCompleted'), (2, 'complete', 'AllStepsSuccessful')) p(k, to_state, event)
  )
  SELECT (SELECT count(*) FROM counted),
         (SELECT string_agg(k.task_uuid::text || ':complete', ',' ORDER BY k.task_uuid) FROM counted k),
         (SELECT string_agg(k.task_uuid::text, ',' ORDER BY k.task_uuid) FROM counted k),
         (SELECT jsonb_agg(jsonb_build_object('namespace', g.namespace, 'template', g.name, 'state', 'complete',
                                              'count', g.n))
          FROM (SELECT tp.namespace, tp.name, count(*)::int AS n FROM counted k
                CROSS JOIN LATERAL (SELECT tp.namespace, tp.name FROM tasker.templates tp
                                    WHERE tp.template_uuid = k.template_uuid OFFSET 0) tp
                GROUP BY tp.namespace, tp.name) g)
  INTO n_tasks, v_finished, v_events, v_finalized;

  -- notify_task_finished and notify_task_events, inline for the payloads one notification holds
  IF n_tasks <= 120 THEN
    PERFORM pg_notify('tasker_task_finished', v_finished);
    PERFORM pg_notify('tasker_task_events', v_events);
  ELSE
    PERFORM tasker.notify_task_finished(p_tasks, 'complete');
    PERFORM tasker.notify_task_events(p_tasks);
  END IF;
  IF p_results @? '$[*].events' THEN
    PERFORM tasker.publish_step_events(p_results, ARRAY(
      SELECT (x->>'step_uuid') || ':' || (x->>'attempt') FROM jsonb_array_elements(p_results) x));
  END IF;
  RETURN v_finalized;
END $function$;
