-- How far a step is from running, as the task view shows it (skipped steps read as skipped).
CREATE OR REPLACE FUNCTION tasker.step_readiness(p_state text, p_pending_parents integer)
 RETURNS text
 LANGUAGE sql
 IMMUTABLE PARALLEL SAFE
AS $function$
  SELECT CASE
    WHEN p_state = 'pending' AND p_pending_parents = 0 THEN 'ready'
    WHEN p_state = 'pending' THEN 'waiting_for_dependencies'
    WHEN p_state = 'waiting_for_retry' THEN 'waiting_for_retry'
    WHEN p_state IN ('enqueued', 'in_progress', 'enqueued_for_orchestration',
                     'enqueued_as_error_for_orchestration') THEN 'running'
    WHEN p_state IN ('complete', 'resolved_manually') THEN 'done'
    WHEN p_state = 'error' THEN 'failed'
    WHEN p_state = 'skipped' THEN 'skipped'
    ELSE 'cancelled'
  END
$function$;
