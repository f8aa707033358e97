-- Part of claim_steps: steps whose worker's lease expired with no attempts left fail (LEASE_EXPIRED, not
-- retryable): each goes to enqueued_as_error_for_orchestration with a result message, so orchestration settles it
-- like any permanent failure.
CREATE OR REPLACE FUNCTION tasker.fail_lost_leases(p_lost uuid[], p_worker text)
 RETURNS void
 LANGUAGE plpgsql
 SET plan_cache_mode TO 'force_generic_plan'
 SET enable_seqscan TO 'off'
 SET enable_mergejoin TO 'off'
 SET enable_hashjoin TO 'off'
 SET jit TO 'off'
AS $function$
BEGIN
  IF p_lost IS NULL OR cardinality(p_lost) = 0 THEN RETURN; END IF;
  UPDATE tasker.workflow_steps s
  SET state = 'enqueued_as_error_for_orchestration', updated_at = now(),
      results = jsonb_build_object('success', false, 'result', NULL,
        'error', jsonb_build_object('name', 'LeaseExpired', 'code', 'LEASE_EXPIRED', 'retryable', false,
          'message', 'the worker running this step stopped before finishing it and no attempts are left'),
        'metadata', jsonb_build_object('attempt', s.attempts, 'detected_by', p_worker))
  WHERE s.step_uuid = ANY(p_lost);
  PERFORM tasker.log_step_transitions(p_lost, 'enqueued_as_error_for_orchestration', 'EnqueueAsErrorForOrchestration',
                                      p_worker, jsonb_build_object('reason', 'visibility timeout expired'));
  INSERT INTO tasker.queue_messages (queue_name, message)
  SELECT 'orchestration_step_results', jsonb_build_object('task_uuid', s.task_uuid, 'step_uuid', s.step_uuid)
  FROM tasker.workflow_steps s WHERE s.step_uuid = ANY(p_lost);
  PERFORM pg_notify(tasker.queue_channel('orchestration_step_results'), '');
END $function$;
