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
    -- each outcome finds its step by key (OFFSET 0 keeps it a lookup: a join could loop over both sets, ADR 0004)
    FROM outcome o
    CROSS JOIN LATERAL (SELECT s.task_uuid, s.step_uuid, s.name, s.results FROM tasker.workflow_steps s
                        WHERE s.step_uuid = o.step_uuid OFFSET 0) s
    GROUP BY s.task_uuid
  ), changes AS (
    -- task -> its counter changes, read per task row (ADR 0004)
    SELECT jsonb_object_agg(p.task_uuid::text, jsonb_build_object('completed', p.completed, 'settled', p.settled,
                                                                   'enqueued', p.enqueued, 'first_error', p.first_error)) AS m
    FROM per_task p
  ), updated AS (
    UPDATE tasker.tasks t
    SET steps_remaining = t.steps_remaining - (ch.m->(t.task_uuid::text)->>'completed')::int,
        steps_in_flight = t.steps_in_flight - (ch.m->(t.task_uuid::text)->>'settled')::int
                          + (ch.m->(t.task_uuid::text)->>'enqueued')::int,
        error = coalesce(t.error, nullif(ch.m->(t.task_uuid::text)->'first_error', 'null'::jsonb)),
        updated_at = now()
    FROM changes ch
    WHERE t.task_uuid = ANY(p_tasks) AND t.task_uuid = ANY(ARRAY(SELECT p.task_uuid FROM per_task p))
    RETURNING t.task_uuid
  )
  SELECT coalesce(array_agg(updated.task_uuid), '{}') INTO v_counted FROM updated;

  SELECT f.tasks_finalized, f.finalized INTO tasks_finalized, finalized
  FROM tasker.finalize_tasks(v_counted, p_processor) f;
  PERFORM tasker.notify_task_events(p_tasks);
END $function$;
