-- The CHECK on the audit table calls this. PL/pgSQL rather than SQL: a SQL function in a CHECK is inlined, its
-- body parsed and planned again, every time a statement starts writing the table (each audit insert on the
-- per-step path: 5-6 % of a completion or a task creation); a PL/pgSQL body is compiled once per session
-- (ADR 0003).
CREATE OR REPLACE FUNCTION tasker.is_allowed_task_transition(p_from text, p_to text)
 RETURNS boolean
 LANGUAGE plpgsql
 IMMUTABLE PARALLEL SAFE
AS $function$
BEGIN
  RETURN CASE WHEN p_from IS NULL THEN coalesce(p_to = 'pending', false) ELSE coalesce(
      (p_from || '>' || p_to) = ANY ('{pending>initializing,initializing>enqueuing_steps,initializing>complete,
      initializing>waiting_for_dependencies,enqueuing_steps>steps_in_process,enqueuing_steps>error,
      steps_in_process>evaluating_results,evaluating_results>complete,evaluating_results>enqueuing_steps,
      evaluating_results>steps_in_process,evaluating_results>waiting_for_dependencies,evaluating_results>waiting_for_retry,
      evaluating_results>blocked_by_failures,waiting_for_dependencies>evaluating_results,waiting_for_retry>enqueuing_steps,
      blocked_by_failures>error,blocked_by_failures>resolved_manually,blocked_by_failures>evaluating_results,
      error>evaluating_results,waiting_for_retry>evaluating_results,
      complete>evaluating_results,resolved_manually>evaluating_results,
      pending>cancelled,initializing>cancelled,enqueuing_steps>cancelled,steps_in_process>cancelled,
      evaluating_results>cancelled,waiting_for_dependencies>cancelled,waiting_for_retry>cancelled,
      blocked_by_failures>cancelled}'::text[]), false) END;
END $function$;
