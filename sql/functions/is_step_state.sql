-- The CHECK on workflow_steps.state calls this; its list equals src/state and step_states (tested).
-- PL/pgSQL rather than SQL, like the transition predicates (ADR 0003): a SQL function in a CHECK is inlined, its
-- body parsed again, each time a statement starts writing the table (every step and task update).
CREATE OR REPLACE FUNCTION tasker.is_step_state(p_state text)
 RETURNS boolean
 LANGUAGE plpgsql
 IMMUTABLE PARALLEL SAFE
AS $function$
BEGIN
  RETURN p_state = ANY ('{pending,enqueued,in_progress,enqueued_for_orchestration,
    enqueued_as_error_for_orchestration,waiting_for_retry,complete,error,cancelled,resolved_manually,skipped}'::text[]);
END $function$;
