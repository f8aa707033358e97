-- Worker claim: locks up to p_limit visible messages of a queue (FOR UPDATE SKIP LOCKED) and moves their steps
-- enqueued -> in_progress. A step still in_progress (its worker's lease expired) is claimed again as a new
-- attempt, or failed when it has none left. Returns each step's execution context (claimed_step_contexts).
CREATE OR REPLACE FUNCTION tasker.claim_steps(p_queue text, p_limit integer, p_vt_seconds double precision, p_worker text)
 RETURNS TABLE(msg_id bigint, step_uuid uuid, task_uuid uuid, step_name text, handler text, attempt integer, max_attempts integer, retryable boolean, retry_policy jsonb, timeout_ms integer, inputs jsonb, context jsonb, namespace text, template_name text, template_version text, correlation_id uuid, dependency_results jsonb, traceparent text, tracestate text, checkpoint jsonb)
 LANGUAGE plpgsql
 SET plan_cache_mode TO 'force_generic_plan'
 SET enable_seqscan TO 'off'
 SET enable_mergejoin TO 'off'
 SET enable_hashjoin TO 'off'
 SET jit TO 'off'
AS $function$
#variable_conflict use_column
DECLARE
  v_msgs bigint[];
  v_steps uuid[];
  v_claimed uuid[];
  v_reclaimed uuid[];
  v_lost uuid[];
  v_keep uuid[];
  v_tasks uuid[];
BEGIN
  WITH visible AS (
    SELECT m.msg_id FROM tasker.queue_messages m
    WHERE m.queue_name = p_queue AND m.vt <= now()
    ORDER BY m.vt, m.msg_id
    LIMIT p_limit
    FOR UPDATE SKIP LOCKED
  ), taken AS (
    UPDATE tasker.queue_messages m
    SET vt = clock_timestamp() + make_interval(secs => p_vt_seconds), read_ct = m.read_ct + 1
    FROM visible WHERE m.msg_id = visible.msg_id
    RETURNING m.msg_id, (m.message->>'step_uuid')::uuid AS step_uuid, (m.message->>'task_uuid')::uuid AS task_uuid
  )
  SELECT array_agg(taken.msg_id), array_agg(taken.step_uuid), array_agg(taken.task_uuid)
  INTO v_msgs, v_steps, v_tasks FROM taken;
  IF v_msgs IS NULL THEN RETURN; END IF;

  -- Step rows locked elsewhere (a completing worker) are skipped; their message comes back after the timeout.
  WITH lockable AS (
    SELECT s.step_uuid, s.state, s.attempts, s.max_attempts, s.retryable FROM tasker.workflow_steps s
    WHERE s.step_uuid = ANY(v_steps) AND s.state IN ('enqueued', 'in_progress')
    FOR UPDATE SKIP LOCKED
  )
  SELECT array_agg(l.step_uuid) FILTER (WHERE l.state = 'enqueued'),
         array_agg(l.step_uuid) FILTER (WHERE l.state = 'in_progress' AND l.retryable AND l.attempts < l.max_attempts),
         array_agg(l.step_uuid) FILTER (WHERE l.state = 'in_progress' AND NOT (l.retryable AND l.attempts < l.max_attempts))
  INTO v_claimed, v_reclaimed, v_lost
  FROM lockable l;

  v_claimed := coalesce(v_claimed, '{}');
  v_reclaimed := coalesce(v_reclaimed, '{}');
  v_lost := coalesce(v_lost, '{}');
  v_keep := v_claimed || v_reclaimed;

  UPDATE tasker.workflow_steps s
  SET state = 'in_progress', attempts = s.attempts + 1, last_attempted_at = now(), updated_at = now()
  WHERE s.step_uuid = ANY(v_keep);
  IF cardinality(v_reclaimed) > 0 THEN
    PERFORM tasker.log_step_transitions(v_reclaimed, 'enqueued', 'LeaseExpired', p_worker,
                                        jsonb_build_object('reason', 'visibility timeout expired'));
  END IF;
  IF cardinality(v_keep) > 0 THEN
    PERFORM tasker.log_step_transitions(v_keep, 'in_progress', 'Start', p_worker);
  END IF;

  PERFORM tasker.fail_lost_leases(v_lost, p_worker);

  -- Delete messages of lost steps and of steps that are no longer claimable (duplicates). Messages of steps
  -- locked by a completing worker are left alone: they reappear after the timeout and are handled then.
  IF cardinality(v_msgs) > cardinality(v_keep) THEN
    DELETE FROM tasker.queue_messages m
    USING unnest(v_msgs, v_steps) AS t(msg_id, step_uuid)
    WHERE m.msg_id = ANY(v_msgs) AND m.msg_id = t.msg_id
      AND (t.step_uuid = ANY(v_lost)
           OR NOT EXISTS (SELECT 1 FROM tasker.workflow_steps s
                          WHERE s.step_uuid = t.step_uuid AND s.state IN ('enqueued', 'in_progress')));
  END IF;

  IF cardinality(v_keep) + cardinality(v_lost) > 0 THEN
    PERFORM tasker.notify_task_events(v_tasks);
  END IF;
  IF cardinality(v_keep) = 0 THEN RETURN; END IF;

  RETURN QUERY
  SELECT c.* FROM tasker.claimed_step_contexts(
    ARRAY(SELECT k.msg_id FROM unnest(v_msgs, v_steps) AS k(msg_id, step_uuid) WHERE k.step_uuid = ANY(v_keep)),
    ARRAY(SELECT k.step_uuid FROM unnest(v_msgs, v_steps) AS k(msg_id, step_uuid) WHERE k.step_uuid = ANY(v_keep))) c;
END $function$;
