-- Part of resolve_steps: enqueues the steps that became ready, except in tasks with a failure (now or before),
-- which enqueue nothing new: they are on their way to error. Returns the steps enqueued.
-- The caller may claim some of them for itself (a worker completing their parents, ADR 0009): up to
-- p_claim_limit of those on the queues p_claim_queues go straight on to in_progress with a leased message (no
-- notification, nobody else races for them); the rest are sent and notified as usual. Returns those claimed.
CREATE OR REPLACE FUNCTION tasker.resolve_enqueue_ready(p_ready uuid[], p_failed uuid[], p_processor text,
  p_claim_queues text[] DEFAULT NULL, p_claim_limit integer DEFAULT 0, p_lease_seconds double precision DEFAULT 0,
  OUT enqueued uuid[], OUT claimed_steps uuid[], OUT claimed_msgs bigint[])
 LANGUAGE plpgsql
 SET plan_cache_mode TO 'force_generic_plan'
 SET enable_seqscan TO 'off'
 SET enable_mergejoin TO 'off'
 SET enable_hashjoin TO 'off'
 SET jit TO 'off'
AS $function$
DECLARE
  v_failing_tasks uuid[];
  v_rest uuid[];
BEGIN
  -- Tasks with a failure (now or before) enqueue nothing new: they are on their way to error.
  enqueued := '{}';
  claimed_steps := '{}';
  claimed_msgs := '{}';
  IF cardinality(p_ready) > 0 THEN
    IF cardinality(p_failed) > 0 THEN
      SELECT coalesce(array_agg(DISTINCT s.task_uuid), '{}') INTO v_failing_tasks
      FROM tasker.workflow_steps s WHERE s.step_uuid = ANY(p_failed);
    ELSE
      v_failing_tasks := '{}';
    END IF;
    -- One statement picks the steps to enqueue, and splits them: among those on the caller's queues the first
    -- p_claim_limit (by priority, then task, then step name) to claim, the rest to send.
    SELECT coalesce(array_agg(x.step_uuid), '{}'),
           coalesce(array_agg(x.step_uuid) FILTER (WHERE x.claim_rank <= p_claim_limit), '{}'),
           coalesce(array_agg(x.step_uuid) FILTER (WHERE x.claim_rank IS NULL OR x.claim_rank > p_claim_limit), '{}')
    INTO enqueued, claimed_steps, v_rest
    FROM (
      SELECT c.step_uuid,
             CASE WHEN tasker.worker_queue_name(t.namespace) = ANY(p_claim_queues)
                  THEN row_number() OVER (PARTITION BY tasker.worker_queue_name(t.namespace) = ANY(p_claim_queues)
                                          ORDER BY t.priority DESC, c.task_uuid, c.name) END AS claim_rank
      FROM tasker.workflow_steps c JOIN tasker.tasks t ON t.task_uuid = c.task_uuid
      WHERE c.step_uuid = ANY(p_ready) AND t.state = 'steps_in_process' AND NOT (t.task_uuid = ANY(v_failing_tasks))
    ) x;
  END IF;
  IF cardinality(enqueued) = 0 THEN RETURN; END IF;

  IF cardinality(v_rest) > 0 THEN
    UPDATE tasker.workflow_steps SET state = 'enqueued', updated_at = now() WHERE step_uuid = ANY(v_rest);
    PERFORM tasker.log_step_transitions(v_rest, 'enqueued', 'Enqueue', p_processor);
    PERFORM tasker.send_step_messages(v_rest);
  END IF;
  IF cardinality(claimed_steps) > 0 THEN
    -- Claimed as claim_steps would: a new attempt, in_progress, under a lease of the claimer's visibility timeout.
    -- The audit trail reads as if enqueued and then claimed.
    UPDATE tasker.workflow_steps s
    SET state = 'in_progress', attempts = s.attempts + 1, last_attempted_at = now(), updated_at = now()
    WHERE s.step_uuid = ANY(claimed_steps);
    PERFORM tasker.log_step_transitions(claimed_steps, 'in_progress', 'Start', p_processor, NULL, 'enqueued', 'Enqueue');
    SELECT array_agg(m.step_uuid), array_agg(m.msg_id) INTO claimed_steps, claimed_msgs
    FROM tasker.send_step_messages(claimed_steps, p_lease_seconds) m;
  END IF;
END $function$;
