-- Part of resolve_steps: what each given result comes to. Template retryable=false, a handler error marked
-- non-retryable, or no attempts left make a failure permanent (`error`, or `tolerated` for a batch worker under
-- failure strategy `continue`, which fails without failing the task); otherwise it is retried. Steps not waiting
-- for orchestration (duplicate messages) are left out. Reads only; completed decision and batchable steps are
-- also listed on their own.
CREATE OR REPLACE FUNCTION tasker.resolve_decide_outcomes(p_steps uuid[])
 RETURNS TABLE(complete uuid[], error uuid[], retry uuid[], tolerated uuid[], decisions uuid[], batchables uuid[])
 LANGUAGE plpgsql
 SET plan_cache_mode TO 'force_generic_plan'
 SET enable_seqscan TO 'off'
 SET enable_mergejoin TO 'off'
 SET enable_hashjoin TO 'off'
 SET jit TO 'off'
AS $function$
BEGIN
  RETURN QUERY
  WITH decided AS (
    SELECT s.step_uuid, s.step_type,
      CASE
        WHEN s.state = 'enqueued_for_orchestration' AND coalesce((s.results->>'success')::boolean, false) THEN 'complete'
        WHEN NOT s.retryable OR s.attempts >= s.max_attempts
             OR coalesce((s.results->'error'->>'retryable')::boolean, true) = false
             OR s.state = 'enqueued_for_orchestration'
          THEN CASE WHEN s.tolerate_failure THEN 'tolerated' ELSE 'error' END
        ELSE 'retry'
      END AS outcome
    FROM tasker.workflow_steps s
    WHERE s.step_uuid = ANY(p_steps)
      AND s.state IN ('enqueued_for_orchestration', 'enqueued_as_error_for_orchestration')
  )
  SELECT coalesce(array_agg(d.step_uuid) FILTER (WHERE d.outcome = 'complete'), '{}'),
         coalesce(array_agg(d.step_uuid) FILTER (WHERE d.outcome = 'error'), '{}'),
         coalesce(array_agg(d.step_uuid) FILTER (WHERE d.outcome = 'retry'), '{}'),
         coalesce(array_agg(d.step_uuid) FILTER (WHERE d.outcome = 'tolerated'), '{}'),
         coalesce(array_agg(d.step_uuid) FILTER (WHERE d.outcome = 'complete' AND d.step_type = 'decision'), '{}'),
         coalesce(array_agg(d.step_uuid) FILTER (WHERE d.outcome = 'complete' AND d.step_type = 'batchable'), '{}')
  FROM decided d;
END $function$;
