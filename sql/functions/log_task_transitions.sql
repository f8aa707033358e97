-- Appends a chain of audit rows per task: p_path[i] reached by event p_events[i].
CREATE OR REPLACE FUNCTION tasker.log_task_transitions(p_tasks uuid[], p_path text[], p_events text[], p_processor text, p_metadata jsonb DEFAULT NULL::jsonb)
 RETURNS void
 LANGUAGE plpgsql
 SET plan_cache_mode TO 'force_generic_plan'
 SET enable_seqscan TO 'off'
 SET enable_mergejoin TO 'off'
 SET enable_hashjoin TO 'off'
 SET jit TO 'off'
AS $function$
DECLARE
  i int;
BEGIN
  IF p_tasks IS NULL OR cardinality(p_tasks) = 0 THEN RETURN; END IF;
  FOR i IN 1 .. cardinality(p_path) LOOP
    WITH demoted AS (
      UPDATE tasker.task_transitions t SET most_recent = false
      WHERE t.task_uuid = ANY(p_tasks) AND t.most_recent
      RETURNING t.task_uuid, t.to_state, t.sort_key
    )
    INSERT INTO tasker.task_transitions (task_uuid, from_state, to_state, event, sort_key, most_recent, metadata, processor)
    SELECT d.task_uuid, d.to_state, p_path[i], p_events[i], d.sort_key + 1, true, p_metadata, p_processor FROM demoted d;
  END LOOP;
END $function$;
