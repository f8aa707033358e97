-- Part of resolve_steps (resolve_record_outcomes): the audit rows of settled steps. Those in p_unaudited, whose
-- results the calling worker completion stored without an audit row, pass through `enqueued_for_orchestration`
-- in the same statement; the others were audited when their result was stored.
CREATE OR REPLACE FUNCTION tasker.resolve_log_outcome(p_steps uuid[], p_unaudited uuid[], p_to text, p_event text,
  p_processor text)
 RETURNS void
 LANGUAGE plpgsql
 SET plan_cache_mode TO 'force_generic_plan'
 SET enable_seqscan TO 'off'
 SET enable_mergejoin TO 'off'
 SET enable_hashjoin TO 'off'
 SET jit TO 'off'
AS $function$
BEGIN
  IF cardinality(p_unaudited) = 0 THEN
    PERFORM tasker.log_step_transitions(p_steps, p_to, p_event, p_processor);
    RETURN;
  END IF;
  PERFORM tasker.log_step_transitions(ARRAY(SELECT u FROM unnest(p_steps) u WHERE u = ANY(p_unaudited)), p_to,
                                      p_event, p_processor, NULL, 'enqueued_for_orchestration',
                                      'EnqueueForOrchestration');
  PERFORM tasker.log_step_transitions(ARRAY(SELECT u FROM unnest(p_steps) u WHERE NOT (u = ANY(p_unaudited))),
                                      p_to, p_event, p_processor);
END $function$;
