-- Immutable predicates used by the CHECK constraints. Their lists equal the tables above (tested).
-- PL/pgSQL rather than SQL, like the transition predicates (ADR 0003): a SQL function in a CHECK is inlined, its
-- body parsed again, each time a statement starts writing the table (every step and task update).
CREATE OR REPLACE FUNCTION tasker.is_task_state(p_state text)
 RETURNS boolean
 LANGUAGE plpgsql
 IMMUTABLE PARALLEL SAFE
AS $function$
BEGIN
  RETURN p_state = ANY ('{pending,initializing,enqueuing_steps,steps_in_process,evaluating_results,
    waiting_for_dependencies,waiting_for_retry,blocked_by_failures,complete,error,cancelled,resolved_manually}'::text[]);
END $function$;
