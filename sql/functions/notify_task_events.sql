-- Tells event-stream listeners (the API's SSE endpoint) which tasks changed, in the same transaction as the
-- change. Channel `tasker_task_events`, payload: comma-separated task uuids, chunked to stay under the 8000-byte
-- payload limit.
CREATE OR REPLACE FUNCTION tasker.notify_task_events(p_tasks uuid[])
 RETURNS void
 LANGUAGE plpgsql
AS $function$
DECLARE
  v_chunk text;
BEGIN
  IF p_tasks IS NULL OR cardinality(p_tasks) = 0 THEN RETURN; END IF;
  IF cardinality(p_tasks) <= 200 THEN
    PERFORM pg_notify('tasker_task_events', (SELECT string_agg(DISTINCT t::text, ',') FROM unnest(p_tasks) AS t));
    RETURN;
  END IF;
  FOR v_chunk IN
    SELECT string_agg(t::text, ',') FROM (
      SELECT t, (row_number() OVER () - 1) / 200 AS grp FROM (SELECT DISTINCT unnest(p_tasks) AS t) d
    ) c GROUP BY grp
  LOOP
    PERFORM pg_notify('tasker_task_events', v_chunk);
  END LOOP;
END $function$;
