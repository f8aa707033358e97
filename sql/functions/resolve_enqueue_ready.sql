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
  v_failing_tasks uuid[] := '{}';
  v_rest uuid[] := '{}';
  v_claim int;
  v_send int;
BEGIN
  enqueued := '{}';
  claimed_steps := '{}';
  claimed_msgs := '{}';
  IF cardinality(p_ready) > 0 THEN
    -- Tasks with a failure (now or before) enqueue nothing new: they are on their way to error.
    IF cardinality(p_failed) > 0 THEN
      SELECT coalesce(array_agg(DISTINCT s.task_uuid), '{}') INTO v_failing_tasks
      FROM tasker.workflow_steps s WHERE s.step_uuid = ANY(p_failed);
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
      FROM tasker.workflow_steps c
      -- the task by key (OFFSET 0 keeps it a lookup, not a scan of every running task by state, ADR 0004)
      CROSS JOIN LATERAL (SELECT t.task_uuid, t.namespace, t.priority, t.state FROM tasker.tasks t
                          WHERE t.task_uuid = c.task_uuid OFFSET 0) t
      WHERE c.step_uuid = ANY(p_ready) AND t.state = 'steps_in_process' AND NOT (t.task_uuid = ANY(v_failing_tasks))
    ) x;
  END IF;
  v_claim := cardinality(claimed_steps);
  v_send := cardinality(v_rest);

  IF v_claim + v_send > 0 THEN
    -- Claimed as claim_steps would: a new attempt, in_progress, under a lease of the claimer's visibility timeout.
    UPDATE tasker.workflow_steps s
    SET state = CASE WHEN s.step_uuid = ANY(claimed_steps) THEN 'in_progress' ELSE 'enqueued' END,
        attempts = s.attempts + CASE WHEN s.step_uuid = ANY(claimed_steps) THEN 1 ELSE 0 END,
        last_attempted_at = CASE WHEN s.step_uuid = ANY(claimed_steps) THEN now() ELSE s.last_attempted_at END,
        updated_at = now()
    WHERE s.step_uuid = ANY(enqueued);
  END IF;
  -- One audit statement: claimed steps read as enqueued and then claimed, the rest as enqueued.
  PERFORM tasker.log_step_paths(
    claimed_steps || v_rest,
    array_fill('in_progress'::text, ARRAY[v_claim]) || array_fill('enqueued'::text, ARRAY[v_send]),
    array_fill('Start'::text, ARRAY[v_claim]) || array_fill('Enqueue'::text, ARRAY[v_send]),
    array_fill('enqueued'::text, ARRAY[v_claim]) || array_fill(NULL::text, ARRAY[v_send]),
    array_fill('Enqueue'::text, ARRAY[v_claim]) || array_fill(NULL::text, ARRAY[v_send]),
    p_processor);
  IF v_claim + v_send > 0 THEN
    SELECT coalesce(array_agg(m.step_uuid), '{}'), coalesce(array_agg(m.msg_id), '{}')
    INTO claimed_steps, claimed_msgs
    FROM tasker.send_step_messages(enqueued, p_lease_seconds, claimed_steps) m
    WHERE m.step_uuid = ANY(claimed_steps);
  END IF;
END $function$;
