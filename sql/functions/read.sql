-- Claims up to p_qty visible messages: they stay invisible for p_vt_seconds and their read count goes up.
-- SKIP LOCKED lets any number of consumers read one queue without waiting on each other.
CREATE OR REPLACE FUNCTION tasker.read(p_queue text, p_vt_seconds double precision, p_qty integer)
 RETURNS SETOF tasker.queue_messages
 LANGUAGE plpgsql
AS $function$
BEGIN
  RETURN QUERY
    WITH visible AS (
      SELECT msg_id FROM tasker.queue_messages
      WHERE queue_name = p_queue AND vt <= now()
      ORDER BY vt, msg_id
      LIMIT p_qty
      FOR UPDATE SKIP LOCKED
    )
    UPDATE tasker.queue_messages m
    SET vt = clock_timestamp() + make_interval(secs => p_vt_seconds), read_ct = m.read_ct + 1
    FROM visible
    WHERE m.msg_id = visible.msg_id
    RETURNING m.*;
END $function$;
