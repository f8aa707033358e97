-- Part of resolve_steps: updates the counters of the tasks the settled steps belong to (remaining, in flight, first
-- error), then moves those tasks on by their counters (finalize_tasks) and notifies event streams. Returns how
-- many tasks were finalized and those tasks grouped by (namespace, template name, final state) for the outcome
-- counters.
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
  v_counted uuid[];
BEGIN
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
    RETURNING t.task_uuid
  )
  SELECT coalesce(array_agg(updated.task_uuid), '{}') INTO v_counted FROM updated;

  SELECT f.tasks_finalized, f.finalized INTO tasks_finalized, finalized
  FROM tasker.finalize_tasks(v_counted, p_processor) f;
  PERFORM tasker.notify_task_events(p_tasks);
END $function$;
