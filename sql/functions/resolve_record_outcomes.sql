-- Part of resolve_steps: moves each settled step to its state (complete, error, waiting_for_retry with the delay
-- the worker computed, or error-but-tolerated for a `continue` batch) with its audit row, and releases the
-- dependents of completed and tolerated steps (release_dependents). Returns the dependents that
-- became ready and the earliest retry time. Steps in p_unaudited (successful results stored by the calling worker
-- completion) get their `enqueued_for_orchestration` audit row here, in the statement that logs their outcome.
CREATE OR REPLACE FUNCTION tasker.resolve_record_outcomes(p_complete uuid[], p_error uuid[], p_retry uuid[],
  p_tolerated uuid[], p_processor text, p_unaudited uuid[] DEFAULT '{}', OUT ready uuid[],
  OUT next_retry_at timestamptz)
 LANGUAGE plpgsql
 SET plan_cache_mode TO 'force_generic_plan'
 SET enable_seqscan TO 'off'
 SET enable_mergejoin TO 'off'
 SET enable_hashjoin TO 'off'
 SET jit TO 'off'
AS $function$
#variable_conflict use_column
BEGIN
  IF cardinality(p_tolerated) > 0 THEN
    UPDATE tasker.workflow_steps SET state = 'error', updated_at = now() WHERE step_uuid = ANY(p_tolerated);
    PERFORM tasker.log_step_transitions(p_tolerated, 'error', 'Fail', p_processor,
                                        jsonb_build_object('tolerated', true));
  END IF;

  IF cardinality(p_complete) + cardinality(p_tolerated) > 0 THEN
    IF cardinality(p_complete) > 0 THEN
      UPDATE tasker.workflow_steps SET state = 'complete', processed_at = now(), updated_at = now()
      WHERE step_uuid = ANY(p_complete);
      PERFORM tasker.resolve_log_outcome(p_complete, p_unaudited, 'complete', 'Complete', p_processor);
    END IF;

    -- tolerated failures release their dependents like completions.
    ready := tasker.release_dependents(p_complete || p_tolerated);
  ELSE
    ready := '{}';
  END IF;

  IF cardinality(p_error) > 0 THEN
    UPDATE tasker.workflow_steps SET state = 'error', updated_at = now() WHERE step_uuid = ANY(p_error);
    PERFORM tasker.resolve_log_outcome(p_error, p_unaudited, 'error', 'Fail', p_processor);
  END IF;

  IF cardinality(p_retry) > 0 THEN
    -- The worker computed the delay (exponential backoff with jitter, or the handler's retryAfterMs, capped).
    UPDATE tasker.workflow_steps s
    SET state = 'waiting_for_retry', updated_at = now(),
        next_retry_at = now() + make_interval(secs => greatest(coalesce((s.results->>'retry_delay_ms')::numeric, 0), 0) / 1000.0)
    WHERE s.step_uuid = ANY(p_retry);
    PERFORM tasker.log_step_transitions(p_retry, 'waiting_for_retry', 'WaitForRetry', p_processor);
    SELECT min(s.next_retry_at) INTO next_retry_at FROM tasker.workflow_steps s WHERE s.step_uuid = ANY(p_retry);
  END IF;
END $function$;
