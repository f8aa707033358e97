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
  -- one statement for the whole path, continuing from each task's last row (nothing is demoted, ADR 0013; the
  -- callers hold the task's row lock, so that row is current)
  WITH last AS (
    SELECT l.task_uuid, l.to_state, l.sort_key
    FROM (SELECT DISTINCT x FROM unnest(p_tasks) AS x) AS u(task_uuid) CROSS JOIN LATERAL (
      SELECT t.task_uuid, t.to_state, t.sort_key FROM tasker.task_transitions t
      WHERE t.task_uuid = u.task_uuid ORDER BY t.sort_key DESC LIMIT 1) l
  )
  INSERT INTO tasker.task_transitions (task_uuid, from_state, to_state, event, sort_key, metadata, processor)
  SELECT d.task_uuid, CASE WHEN h.i = 1 THEN d.to_state ELSE p_path[h.i - 1] END, p_path[h.i], p_events[h.i],
         d.sort_key + h.i, p_metadata, p_processor
  FROM last d CROSS JOIN generate_series(1, cardinality(p_path)) AS h(i)
  ORDER BY d.task_uuid, h.i;
END $function$;
