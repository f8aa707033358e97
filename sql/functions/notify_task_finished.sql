-- Announces finished tasks on `tasker_task_finished` (payload: `uuid:state` items separated by commas), in the
-- caller's transaction so listeners hear of them exactly when the change is visible.
-- Items of at most 55 bytes (36 + ':' + 17 + ','): 120 per notification stays well under 8000 bytes.
CREATE OR REPLACE FUNCTION tasker.notify_task_finished(p_tasks uuid[], p_state text)
 RETURNS void
 LANGUAGE plpgsql
 SET plan_cache_mode TO 'force_generic_plan'
 SET enable_seqscan TO 'off'
 SET enable_mergejoin TO 'off'
 SET enable_hashjoin TO 'off'
 SET jit TO 'off'
AS $function$
DECLARE
  v_chunk text;
BEGIN
  IF p_tasks IS NULL OR cardinality(p_tasks) = 0 THEN RETURN; END IF;
  IF cardinality(p_tasks) <= 120 THEN
    PERFORM pg_notify('tasker_task_finished',
                      (SELECT string_agg(DISTINCT t::text || ':' || p_state, ',') FROM unnest(p_tasks) AS t));
    RETURN;
  END IF;
  FOR v_chunk IN
    SELECT string_agg(t::text || ':' || p_state, ',') FROM (
      SELECT t, (row_number() OVER () - 1) / 120 AS grp FROM (SELECT DISTINCT unnest(p_tasks) AS t) d
    ) c GROUP BY grp
  LOOP
    PERFORM pg_notify('tasker_task_finished', v_chunk);
  END LOOP;
END $function$;
