CREATE OR REPLACE FUNCTION tasker.delete(p_queue text, p_msg_ids bigint[])
 RETURNS SETOF bigint
 LANGUAGE plpgsql
AS $function$
BEGIN
  RETURN QUERY DELETE FROM tasker.queue_messages WHERE queue_name = p_queue AND msg_id = ANY(p_msg_ids) RETURNING msg_id;
END $function$;
