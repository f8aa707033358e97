-- Sets the visibility timeout of messages to now + p_vt_seconds (0 makes them visible at once).
CREATE OR REPLACE FUNCTION tasker.set_vt(p_queue text, p_msg_ids bigint[], p_vt_seconds double precision)
 RETURNS SETOF bigint
 LANGUAGE plpgsql
AS $function$
BEGIN
  RETURN QUERY
    UPDATE tasker.queue_messages SET vt = clock_timestamp() + make_interval(secs => p_vt_seconds)
    WHERE queue_name = p_queue AND msg_id = ANY(p_msg_ids)
    RETURNING msg_id;
END $function$;
