CREATE OR REPLACE FUNCTION tasker.send(p_queue text, p_message jsonb, p_delay_ms integer DEFAULT 0, p_headers jsonb DEFAULT NULL::jsonb)
 RETURNS bigint
 LANGUAGE plpgsql
AS $function$
DECLARE
  v_id bigint;
BEGIN
  PERFORM tasker.assert_queue(p_queue);
  INSERT INTO tasker.queue_messages (queue_name, vt, message, headers)
  VALUES (p_queue, now() + make_interval(secs => p_delay_ms / 1000.0), p_message, p_headers)
  RETURNING msg_id INTO v_id;
  PERFORM pg_notify(tasker.queue_channel(p_queue), '');
  RETURN v_id;
END $function$;
