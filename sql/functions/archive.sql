CREATE OR REPLACE FUNCTION tasker.archive(p_queue text, p_msg_ids bigint[])
 RETURNS SETOF bigint
 LANGUAGE plpgsql
AS $function$
BEGIN
  RETURN QUERY
    WITH moved AS (
      DELETE FROM tasker.queue_messages WHERE queue_name = p_queue AND msg_id = ANY(p_msg_ids) RETURNING *
    )
    INSERT INTO tasker.queue_messages_archive (msg_id, queue_name, read_ct, enqueued_at, vt, message, headers)
    SELECT msg_id, queue_name, read_ct, enqueued_at, vt, message, headers FROM moved
    RETURNING msg_id;
END $function$;
