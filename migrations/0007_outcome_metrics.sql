-- Task outcomes for metrics, in the round trip that decides them. resolve_steps (and so process_step_results)
-- also returns the tasks it finalized, grouped by namespace, template name and final state:
--   [{"namespace": "shop", "template": "checkout", "state": "complete", "count": 3}, ...]
-- The groups come from the rows the task-counter UPDATE already returns (their template_uuid) plus one primary-key
-- lookup per distinct template, and only when the batch finalized something: no extra scan of tasks or steps.
-- Callers that only want the side effects (`PERFORM 1 FROM tasker.resolve_steps(...)`) are unaffected.
-- The bodies are those of 0003_engine.sql except where marked "0007".

DROP FUNCTION IF EXISTS tasker.process_step_results(int, text);
DROP FUNCTION IF EXISTS tasker.resolve_steps(uuid[], text);

CREATE FUNCTION tasker.resolve_steps(p_steps uuid[], p_processor text)
RETURNS TABLE (steps_enqueued int, tasks_finalized int, next_retry_at timestamptz, finalized jsonb)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  v_steps uuid[] := p_steps;
  v_tasks uuid[];
  v_children uuid[];
  v_complete uuid[];
  v_error uuid[];
  v_retry uuid[];
  v_ready uuid[];
  v_enqueue uuid[];
  v_failing_tasks uuid[];
  v_done uuid[];
  v_to_error_running uuid[];
  v_to_error_blocked uuid[];
  v_to_blocked uuid[];
  v_to_wait uuid[];
  v_next timestamptz;
  -- 0007: templates of the tasks finalized in this call (one entry per task), and their grouping.
  v_done_templates uuid[];
  v_error_templates uuid[];
  v_finalized jsonb := '[]';
BEGIN
  SELECT array_agg(l.task_uuid) INTO v_tasks FROM (
    SELECT t.task_uuid FROM tasker.tasks t
    WHERE t.task_uuid = ANY(ARRAY(SELECT s.task_uuid FROM tasker.workflow_steps s WHERE s.step_uuid = ANY(v_steps)))
    ORDER BY t.task_uuid
    FOR UPDATE OF t
  ) l;

  -- Decide each result. Template retryable=false, a handler error marked non-retryable, or no attempts left make
  -- the failure permanent. Steps not waiting for orchestration (duplicate messages) are ignored.
  WITH decided AS (
    SELECT s.step_uuid,
      CASE
        WHEN s.state = 'enqueued_for_orchestration' AND coalesce((s.results->>'success')::boolean, false) THEN 'complete'
        WHEN NOT s.retryable OR s.attempts >= s.max_attempts
             OR coalesce((s.results->'error'->>'retryable')::boolean, true) = false
             OR s.state = 'enqueued_for_orchestration' THEN 'error'
        ELSE 'retry'
      END AS outcome
    FROM tasker.workflow_steps s
    WHERE s.step_uuid = ANY(v_steps)
      AND s.state IN ('enqueued_for_orchestration', 'enqueued_as_error_for_orchestration')
  )
  SELECT coalesce(array_agg(step_uuid) FILTER (WHERE outcome = 'complete'), '{}'),
         coalesce(array_agg(step_uuid) FILTER (WHERE outcome = 'error'), '{}'),
         coalesce(array_agg(step_uuid) FILTER (WHERE outcome = 'retry'), '{}')
  INTO v_complete, v_error, v_retry
  FROM decided;

  IF cardinality(v_complete) > 0 THEN
    UPDATE tasker.workflow_steps SET state = 'complete', processed_at = now(), updated_at = now()
    WHERE step_uuid = ANY(v_complete);
    PERFORM tasker.log_step_transitions(v_complete, 'complete', 'Complete', p_processor);

    v_children := ARRAY(SELECT DISTINCT e.to_step_uuid FROM tasker.workflow_step_edges e
                        WHERE e.from_step_uuid = ANY(v_complete));
    WITH released AS (
      SELECT e.to_step_uuid, count(*)::int AS n FROM tasker.workflow_step_edges e
      WHERE e.from_step_uuid = ANY(v_complete) GROUP BY e.to_step_uuid
    ), decremented AS (
      UPDATE tasker.workflow_steps c SET pending_parents = c.pending_parents - released.n
      FROM released WHERE c.step_uuid = ANY(v_children) AND c.step_uuid = released.to_step_uuid
      RETURNING c.step_uuid, c.pending_parents, c.state
    )
    SELECT coalesce(array_agg(step_uuid) FILTER (WHERE pending_parents = 0 AND state = 'pending'), '{}')
    INTO v_ready FROM decremented;
  ELSE
    v_ready := '{}';
  END IF;

  IF cardinality(v_error) > 0 THEN
    UPDATE tasker.workflow_steps SET state = 'error', updated_at = now() WHERE step_uuid = ANY(v_error);
    PERFORM tasker.log_step_transitions(v_error, 'error', 'Fail', p_processor);
  END IF;

  IF cardinality(v_retry) > 0 THEN
    -- The worker computed the delay (exponential backoff with jitter, or the handler's retryAfterMs, capped).
    UPDATE tasker.workflow_steps s
    SET state = 'waiting_for_retry', updated_at = now(),
        next_retry_at = now() + make_interval(secs => greatest(coalesce((s.results->>'retry_delay_ms')::numeric, 0), 0) / 1000.0)
    WHERE s.step_uuid = ANY(v_retry);
    PERFORM tasker.log_step_transitions(v_retry, 'waiting_for_retry', 'WaitForRetry', p_processor);
    SELECT min(s.next_retry_at) INTO v_next FROM tasker.workflow_steps s WHERE s.step_uuid = ANY(v_retry);
  END IF;

  -- Tasks with a failure (now or before) enqueue nothing new: they are on their way to error.
  v_enqueue := '{}';
  IF cardinality(v_ready) > 0 THEN
    IF cardinality(v_error) > 0 THEN
      SELECT coalesce(array_agg(DISTINCT s.task_uuid), '{}') INTO v_failing_tasks
      FROM tasker.workflow_steps s WHERE s.step_uuid = ANY(v_error);
    ELSE
      v_failing_tasks := '{}';
    END IF;
    SELECT coalesce(array_agg(c.step_uuid), '{}') INTO v_enqueue
    FROM tasker.workflow_steps c JOIN tasker.tasks t ON t.task_uuid = c.task_uuid
    WHERE c.step_uuid = ANY(v_ready) AND t.state = 'steps_in_process' AND NOT (t.task_uuid = ANY(v_failing_tasks));
  END IF;

  IF cardinality(v_enqueue) > 0 THEN
    UPDATE tasker.workflow_steps SET state = 'enqueued', updated_at = now() WHERE step_uuid = ANY(v_enqueue);
    PERFORM tasker.log_step_transitions(v_enqueue, 'enqueued', 'Enqueue', p_processor);
    PERFORM tasker.send_step_messages(v_enqueue);
  END IF;

  -- Task counters, then finalization by group.
  WITH outcome AS (
    SELECT u AS step_uuid, 'complete'::text AS kind FROM unnest(v_complete) AS u
    UNION ALL SELECT u, 'error' FROM unnest(v_error) u
    UNION ALL SELECT u, 'retry' FROM unnest(v_retry) u
    UNION ALL SELECT u, 'enqueue' FROM unnest(v_enqueue) u
  ), per_task AS (
    SELECT s.task_uuid,
           count(*) FILTER (WHERE o.kind = 'complete')::int AS completed,
           count(*) FILTER (WHERE o.kind IN ('complete', 'error', 'retry'))::int AS settled,
           count(*) FILTER (WHERE o.kind = 'enqueue')::int AS enqueued,
           (array_agg(jsonb_build_object('step_uuid', s.step_uuid, 'step_name', s.name, 'error', s.results->'error'))
              FILTER (WHERE o.kind = 'error'))[1] AS first_error
    FROM outcome o JOIN tasker.workflow_steps s ON s.step_uuid = o.step_uuid
    WHERE s.step_uuid = ANY(v_complete || v_error || v_retry || v_enqueue)
    GROUP BY s.task_uuid
  ), updated AS (
    UPDATE tasker.tasks t
    SET steps_remaining = t.steps_remaining - p.completed,
        steps_in_flight = t.steps_in_flight - p.settled + p.enqueued,
        error = coalesce(t.error, p.first_error),
        updated_at = now()
    FROM per_task p WHERE t.task_uuid = ANY(v_tasks) AND t.task_uuid = p.task_uuid
    -- 0007: template_uuid added.
    RETURNING t.task_uuid, t.template_uuid, t.state, t.steps_remaining, t.steps_in_flight, t.error IS NOT NULL AS failing
  )
  SELECT
    coalesce(array_agg(task_uuid) FILTER (WHERE state = 'steps_in_process' AND steps_remaining = 0), '{}'),
    coalesce(array_agg(task_uuid) FILTER (WHERE state = 'steps_in_process' AND steps_remaining > 0 AND failing AND steps_in_flight = 0), '{}'),
    coalesce(array_agg(task_uuid) FILTER (WHERE state = 'blocked_by_failures' AND steps_in_flight = 0), '{}'),
    coalesce(array_agg(task_uuid) FILTER (WHERE state = 'steps_in_process' AND steps_remaining > 0 AND failing AND steps_in_flight > 0), '{}'),
    coalesce(array_agg(task_uuid) FILTER (WHERE state = 'steps_in_process' AND steps_remaining > 0 AND NOT failing AND steps_in_flight = 0), '{}'),
    -- 0007: the same filters as v_done and v_to_error_running || v_to_error_blocked, collecting templates.
    coalesce(array_agg(template_uuid) FILTER (WHERE state = 'steps_in_process' AND steps_remaining = 0), '{}'),
    coalesce(array_agg(template_uuid) FILTER (WHERE
      (state = 'steps_in_process' AND steps_remaining > 0 AND failing AND steps_in_flight = 0)
      OR (state = 'blocked_by_failures' AND steps_in_flight = 0)), '{}')
  INTO v_done, v_to_error_running, v_to_error_blocked, v_to_blocked, v_to_wait, v_done_templates, v_error_templates
  FROM updated;

  IF cardinality(v_done) > 0 THEN
    PERFORM tasker.move_tasks(v_done, ARRAY['evaluating_results', 'complete'],
                              ARRAY['StepCompleted', 'AllStepsSuccessful'], p_processor);
  END IF;
  IF cardinality(v_to_error_running) > 0 THEN
    PERFORM tasker.move_tasks(v_to_error_running, ARRAY['evaluating_results', 'blocked_by_failures', 'error'],
                              ARRAY['StepCompleted', 'PermanentFailure', 'GiveUp'], p_processor);
  END IF;
  IF cardinality(v_to_error_blocked) > 0 THEN
    PERFORM tasker.move_tasks(v_to_error_blocked, ARRAY['error'], ARRAY['GiveUp'], p_processor);
  END IF;
  IF cardinality(v_to_blocked) > 0 THEN
    PERFORM tasker.move_tasks(v_to_blocked, ARRAY['evaluating_results', 'blocked_by_failures'],
                              ARRAY['StepCompleted', 'PermanentFailure'], p_processor);
  END IF;
  IF cardinality(v_to_wait) > 0 THEN
    PERFORM tasker.move_tasks(v_to_wait, ARRAY['evaluating_results', 'waiting_for_retry'],
                              ARRAY['StepCompleted', 'RetryScheduled'], p_processor);
  END IF;
  IF cardinality(v_to_error_running) + cardinality(v_to_error_blocked) > 0 THEN
    PERFORM tasker.record_failed_tasks(v_to_error_running || v_to_error_blocked);
  END IF;
  PERFORM tasker.notify_task_events(v_tasks);

  -- 0007: finalized tasks by (namespace, template name, final state); versions of one template are summed.
  IF cardinality(v_done_templates) + cardinality(v_error_templates) > 0 THEN
    SELECT coalesce(jsonb_agg(jsonb_build_object('namespace', g.namespace, 'template', g.name, 'state', g.state,
                                                 'count', g.n)), '[]')
    INTO v_finalized
    FROM (
      SELECT tp.namespace, tp.name, f.state, sum(f.n)::int AS n
      FROM (
        SELECT u AS template_uuid, 'complete'::text AS state, count(*) AS n FROM unnest(v_done_templates) u GROUP BY u
        UNION ALL
        SELECT u, 'error', count(*) FROM unnest(v_error_templates) u GROUP BY u
      ) f
      JOIN tasker.templates tp ON tp.template_uuid = f.template_uuid
      GROUP BY tp.namespace, tp.name, f.state
    ) g;
  END IF;

  RETURN QUERY SELECT cardinality(v_enqueue),
                      cardinality(v_done) + cardinality(v_to_error_running) + cardinality(v_to_error_blocked),
                      v_next,
                      v_finalized;
END $$;

-- ---------------------------------------------------------------------------------------------------------
-- Orchestration: settle a batch of step results in one transaction: take (and so acknowledge) up to p_limit
-- result messages, then resolve their steps. A rollback restores the messages. 0007: passes on `finalized`.
-- ---------------------------------------------------------------------------------------------------------
CREATE FUNCTION tasker.process_step_results(p_limit int, p_processor text)
RETURNS TABLE (results_processed int, steps_enqueued int, tasks_finalized int, next_retry_at timestamptz,
               finalized jsonb)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  v_steps uuid[];
  v_n int;
BEGIN
  WITH taken AS (
    DELETE FROM tasker.queue_messages m
    WHERE m.msg_id IN (
      SELECT v.msg_id FROM tasker.queue_messages v
      WHERE v.queue_name = 'orchestration_step_results' AND v.vt <= now()
      ORDER BY v.vt, v.msg_id
      LIMIT p_limit
      FOR UPDATE SKIP LOCKED
    )
    RETURNING (m.message->>'step_uuid')::uuid AS step_uuid
  )
  SELECT array_agg(taken.step_uuid) INTO v_steps FROM taken;
  IF v_steps IS NULL THEN
    RETURN QUERY SELECT 0, 0, 0, NULL::timestamptz, '[]'::jsonb;
    RETURN;
  END IF;
  v_n := cardinality(v_steps);
  RETURN QUERY SELECT v_n, r.steps_enqueued, r.tasks_finalized, r.next_retry_at, r.finalized
               FROM tasker.resolve_steps(v_steps, p_processor) r;
END $$;

-- The planner settings of 0003_engine.sql, for the functions created again above (a new function starts without
-- them).
DO $$
DECLARE
  f regprocedure;
BEGIN
  FOR f IN
    SELECT p.oid::regprocedure FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
    WHERE n.nspname = 'tasker' AND p.proname IN ('resolve_steps', 'process_step_results')
  LOOP
    EXECUTE format('ALTER FUNCTION %s SET plan_cache_mode = force_generic_plan', f);
    EXECUTE format('ALTER FUNCTION %s SET enable_seqscan = off', f);
    EXECUTE format('ALTER FUNCTION %s SET enable_mergejoin = off', f);
    EXECUTE format('ALTER FUNCTION %s SET enable_hashjoin = off', f);
  END LOOP;
END $$;
