-- Part of step resolution: moves each given task on by its counters, once they are up to date: complete (nothing
-- remaining), error (failing and nothing in flight, running or blocked), blocked_by_failures (failing, steps still
-- in flight), or waiting_for_retry (nothing in flight but steps remaining); failed tasks get their dead-letter
-- entry. A task none of these fit is left as it is. Returns how many tasks were finalized and those tasks grouped
-- by (namespace, template name, final state) for the outcome counters; versions of one template are summed.
CREATE OR REPLACE FUNCTION tasker.finalize_tasks(p_tasks uuid[], p_processor text, OUT tasks_finalized integer,
  OUT finalized jsonb)
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
  tasks_finalized := 0;
  IF p_tasks IS NULL OR cardinality(p_tasks) = 0 THEN RETURN; END IF;
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
  FROM (
    SELECT t.task_uuid, t.template_uuid, t.state, t.steps_remaining, t.steps_in_flight, t.error IS NOT NULL AS failing
    FROM tasker.tasks t WHERE t.task_uuid = ANY(p_tasks)
  ) c;

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
