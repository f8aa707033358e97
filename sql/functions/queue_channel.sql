-- The LISTEN channel of a queue (channel names are limited to 63 bytes; queue names to 47).
CREATE OR REPLACE FUNCTION tasker.queue_channel(p_queue text)
 RETURNS text
 LANGUAGE sql
 IMMUTABLE PARALLEL SAFE
AS $function$ SELECT 'tasker_q_' || p_queue $function$;
