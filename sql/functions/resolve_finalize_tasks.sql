-- Part of resolve_steps: updates the counters of the tasks the settled steps belong to (remaining, in flight, first
-- error), then moves each task on by its counters: complete, error (also when blocked and nothing is in flight),
-- blocked_by_failures, or waiting_for_retry; failed tasks get their dead-letter entry. Notifies event streams.
-- Returns how many tasks were finalized and those tasks grouped by (namespace, template name, final state) for
-- the outcome counters; versions of one template are summed.
CREATE OR REPLACE FUNCTION tasker.resolve_finalize_tasks(p_tasks uuid[], p_complete uuid[], p_error uuid[],
  p_retry uuid[], p_enqueued uuid[], p_tolerated uuid[], p_skipped uuid[], p_withdrawn uuid[], p_processor text,
  OUT tasks_finalized integer, OUT finalized jsonb)
 LANGUAGE plpgsql
 SET plan_cache_mode TO 'force_generic_plan'
 SET enable_seqscan TO 'off'
 SET enable_mergejoin TO 'off'
 SET enable_hashjoin TO 'off'
 SET jit TO 'off'
AS $function$
#variable_conflict use_column
DECLARE
  v_done uuid[];
  v_to_error_running uuid[];
  v_to_error_blocked uuid[];
  v_to_blocked uuid[];
  v_to_wait uuid[];
  -- templates of the tasks finalized in this call (one entry per task).
  v_done_templates uuid[];
  v_error_templates uuid[];
BEGIN
  finalized := '[]';
  -- Task counters, then finalization by group.
  WITH outcome AS (
    SELECT u AS step_uuid, 'complete'::text AS kind FROM unnest(p_complete) AS u
    UNION ALL SELECT u, 'error' FROM unnest(p_error) u
    UNION ALL SELECT u, 'retry' FROM unnest(p_retry) u
    UNION ALL SELECT u, 'enqueue' FROM unnest(p_enqueued) u
    -- tolerated failures count as done; skipped steps are done and were never in flight.
    UNION ALL SELECT u, 'tolerated' FROM unnest(p_tolerated) u
    UNION ALL SELECT u, 'skipped' FROM unnest(p_skipped) u
    UNION ALL SELECT u, 'withdrawn' FROM unnest(p_withdrawn) u
  ), per_task AS (
    SELECT s.task_uuid,
           count(*) FILTER (WHERE o.kind IN ('complete', 'tolerated', 'skipped'))::int AS completed,
           count(*) FILTER (WHERE o.kind IN ('complete', 'tolerated', 'error', 'retry', 'withdrawn'))::int AS settled,
           count(*) FILTER (WHERE o.kind = 'enqueue')::int AS enqueued,
           (array_agg(jsonb_build_object('step_uuid', s.step_uuid, 'step_name', s.name, 'error', s.results->'error'))
              FILTER (WHERE o.kind = 'error'))[1] AS first_error
    FROM outcome o JOIN tasker.workflow_steps s ON s.step_uuid = o.step_uuid
    WHERE s.step_uuid = ANY(p_complete || p_error || p_retry || p_enqueued || p_tolerated || p_skipped
                            || p_withdrawn)
    GROUP BY s.task_uuid
  ), updated AS (
    UPDATE tasker.tasks t
    SET steps_remaining = t.steps_remaining - p.completed,
        steps_in_flight = t.steps_in_flight - p.settled + p.enqueued,
        error = coalesce(t.error, p.first_error),
        updated_at = now()
    FROM per_task p WHERE t.task_uuid = ANY(p_tasks) AND t.task_uuid = p.task_uuid
    RETURNING t.task_uuid, t.template_uuid, t.state, t.steps_remaining, t.steps_in_flight, t.error IS NOT NULL AS failing
  )
  SELECT
    coalesce(array_agg(task_uuid) FILTER (WHERE state = 'steps_in_process' AND steps_remaining = 0), '{}'),
    coalesce(array_agg(task_uuid) FILTER (WHERE state = 'steps_in_process' AND steps_remaining > 0 AND failing AND steps_in_flight = 0), '{}'),
    coalesce(array_agg(task_uuid) FILTER (WHERE state = 'blocked_by_failures' AND steps_in_flight = 0), '{}'),
    coalesce(array_agg(task_uuid) FILTER (WHERE state = 'steps_in_process' AND steps_remaining > 0 AND failing AND steps_in_flight > 0), '{}'),
    coalesce(array_agg(task_uuid) FILTER (WHERE state = 'steps_in_process' AND steps_remaining > 0 AND NOT failing AND steps_in_flight = 0), '{}'),
    -- the same filters as v_done and v_to_error_running || v_to_error_blocked, collecting templates.
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
  PERFORM tasker.notify_task_events(p_tasks);

  -- finalized tasks by (namespace, template name, final state); versions of one template are summed.
  IF cardinality(v_done_templates) + cardinality(v_error_templates) > 0 THEN
    SELECT coalesce(jsonb_agg(jsonb_build_object('namespace', g.namespace, 'template', g.name, 'state', g.state,
                                                 'count', g.n)), '[]')
    INTO finalized
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
  tasks_finalized := cardinality(v_done) + cardinality(v_to_error_running) + cardinality(v_to_error_blocked);
END $function$;
