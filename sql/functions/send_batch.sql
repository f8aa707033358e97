CREATE OR REPLACE FUNCTION tasker.send_batch(p_queue text, p_messages jsonb[], p_delay_ms integer DEFAULT 0)
 RETURNS SETOF bigint
 LANGUAGE plpgsql
AS $function$
BEGIN
  PERFORM tasker.assert_queue(p_queue);
  RETURN QUERY
    INSERT INTO tasker.queue_messages (queue_name, vt, message)
    SELECT p_queue, now() + make_interval(secs => p_delay_ms / 1000.0), m FROM unnest(p_messages) AS m
    RETURNING msg_id;
  PERFORM pg_notify(tasker.queue_channel(p_queue), '');
END $function$;
