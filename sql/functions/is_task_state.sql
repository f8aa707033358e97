-- Immutable predicates used by the CHECK constraints. Their lists equal the tables above (tested).
CREATE OR REPLACE FUNCTION tasker.is_task_state(p_state text)
 RETURNS boolean
 LANGUAGE sql
 IMMUTABLE PARALLEL SAFE
AS $function$
  SELECT p_state = ANY ('{pending,initializing,enqueuing_steps,steps_in_process,evaluating_results,
    waiting_for_dependencies,waiting_for_retry,blocked_by_failures,complete,error,cancelled,resolved_manually}'::text[])
$function$;
