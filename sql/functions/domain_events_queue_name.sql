CREATE OR REPLACE FUNCTION tasker.domain_events_queue_name(p_namespace text)
 RETURNS text
 LANGUAGE sql
 IMMUTABLE PARALLEL SAFE
AS $function$ SELECT 'domain_events_' || p_namespace $function$;
