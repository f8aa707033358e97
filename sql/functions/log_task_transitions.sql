-- Appends a chain of audit rows per task, in one statement: p_path[i] reached by event p_events[i].
CREATE OR REPLACE FUNCTION tasker.log_task_transitions(p_tasks uuid[], p_path text[], p_events text[], p_processor text, p_metadata jsonb DEFAULT NULL::jsonb)
 RETURNS void
 LANGUAGE plpgsql
 SET plan_cache_mode TO 'force_generic_plan'
 SET enable_seqscan TO 'off'
 SET enable_mergejoin TO 'off'
 SET enable_hashjoin TO 'off'
 SET jit TO 'off'
AS $function$
BEGIN
  IF p_tasks IS NULL OR cardinality(p_tasks) = 0 THEN RETURN; END IF;
  -- one statement for the whole path: the current row demoted, then one row per hop, the last most recent
  WITH demoted AS (
    UPDATE tasker.task_transitions t SET most_recent = false
    WHERE t.task_uuid = ANY(p_tasks) AND t.most_recent
    RETURNING t.task_uuid, t.to_state, t.sort_key
  )
  INSERT INTO tasker.task_transitions (task_uuid, from_state, to_state, event, sort_key, most_recent, metadata, processor)
  SELECT d.task_uuid, CASE WHEN h.i = 1 THEN d.to_state ELSE p_path[h.i - 1] END, p_path[h.i], p_events[h.i],
         d.sort_key + h.i, h.i = cardinality(p_path), p_metadata, p_processor
  FROM demoted d CROSS JOIN generate_series(1, cardinality(p_path)) AS h(i)
  ORDER BY d.task_uuid, h.i;
END $function$;
