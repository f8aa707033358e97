CREATE OR REPLACE FUNCTION tasker.worker_queue_name(p_namespace text)
 RETURNS text
 LANGUAGE sql
 IMMUTABLE PARALLEL SAFE
AS $function$ SELECT 'worker_' || p_namespace || '_queue' $function$;
