-- The CHECK on the audit table calls this. PL/pgSQL rather than SQL: a SQL function in a CHECK is inlined, its
-- body parsed and planned again, every time a statement starts writing the table (each audit insert on the
-- per-step path: 5-6 % of a completion or a task creation); a PL/pgSQL body is compiled once per session
-- (ADR 0003).
CREATE OR REPLACE FUNCTION tasker.is_allowed_step_transition(p_from text, p_to text)
 RETURNS boolean
 LANGUAGE plpgsql
 IMMUTABLE PARALLEL SAFE
AS $function$
BEGIN
  RETURN CASE WHEN p_from IS NULL THEN coalesce(p_to = 'pending', false) ELSE coalesce(
      (p_from || '>' || p_to) = ANY ('{pending>enqueued,enqueued>in_progress,in_progress>enqueued_for_orchestration,
      in_progress>enqueued_as_error_for_orchestration,in_progress>enqueued,enqueued_for_orchestration>complete,
      enqueued_for_orchestration>error,enqueued_as_error_for_orchestration>waiting_for_retry,
      enqueued_as_error_for_orchestration>error,waiting_for_retry>pending,error>pending,pending>skipped,
      complete>pending,cancelled>pending,resolved_manually>pending,skipped>pending}'::text[])
        OR (p_to IN ('cancelled', 'resolved_manually', 'complete')
            AND p_from = ANY ('{pending,enqueued,in_progress,enqueued_for_orchestration,
              enqueued_as_error_for_orchestration,waiting_for_retry,error}'::text[])), false) END;
END $function$;
