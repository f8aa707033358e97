CREATE OR REPLACE FUNCTION tasker.is_step_state(p_state text)
 RETURNS boolean
 LANGUAGE sql
 IMMUTABLE PARALLEL SAFE
AS $function$
  SELECT p_state = ANY ('{pending,enqueued,in_progress,enqueued_for_orchestration,
    enqueued_as_error_for_orchestration,waiting_for_retry,complete,error,cancelled,resolved_manually,skipped}'::text[])
$function$;
