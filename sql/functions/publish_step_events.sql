-- The durable domain events of a worker's applied results (`events` of each result in p_results), written in the
-- transaction that records the results: an event exists exactly when its step's result was recorded. Results
-- refused (a lost lease: not in p_applied, 'step_uuid:attempt' keys) publish nothing. Listeners of each
-- namespace's events queue are notified.
CREATE OR REPLACE FUNCTION tasker.publish_step_events(p_results jsonb, p_applied text[])
 RETURNS void
 LANGUAGE plpgsql
 SET plan_cache_mode TO 'force_generic_plan'
 SET enable_seqscan TO 'off'
 SET enable_mergejoin TO 'off'
 SET enable_hashjoin TO 'off'
 SET jit TO 'off'
AS $function$
#variable_conflict use_column
DECLARE
  v_queue text;
BEGIN
  IF p_applied IS NULL OR NOT (p_results @? '$[*].events') THEN RETURN; END IF;
  FOR v_queue IN
    WITH ins AS (
      INSERT INTO tasker.queue_messages (queue_name, message)
      SELECT tasker.domain_events_queue_name(ev->>'namespace'), ev
      FROM jsonb_array_elements(p_results) e CROSS JOIN LATERAL jsonb_array_elements(e->'events') ev
      WHERE jsonb_typeof(e->'events') = 'array'
        AND (e->>'step_uuid') || ':' || (e->>'attempt') = ANY(p_applied)
      RETURNING queue_name
    )
    SELECT DISTINCT ins.queue_name FROM ins
  LOOP
    PERFORM pg_notify(tasker.queue_channel(v_queue), '');
  END LOOP;
END $function$;
