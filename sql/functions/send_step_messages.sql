-- Step messages are sent (and so claimed, among equal visibility times) in step-name order within a task; batch
-- instances, created together, then start in batch order instead of UUIDv7 order, which is random within a
-- millisecond. With p_lease_seconds the messages are written already leased (invisible for that long, read
-- once) and nobody is notified: the caller has claimed the steps for itself. Returns each step's message.
CREATE OR REPLACE FUNCTION tasker.send_step_messages(p_steps uuid[], p_lease_seconds double precision DEFAULT NULL)
 RETURNS TABLE(step_uuid uuid, msg_id bigint)
 LANGUAGE plpgsql
 SET plan_cache_mode TO 'force_generic_plan'
 SET enable_seqscan TO 'off'
 SET enable_mergejoin TO 'off'
 SET enable_hashjoin TO 'off'
 SET jit TO 'off'
AS $function$
#variable_conflict use_column
DECLARE
  v_queue text;
  v_queues text[];
  v_steps uuid[];
  v_msgs bigint[];
BEGIN
  IF p_steps IS NULL OR cardinality(p_steps) = 0 THEN RETURN; END IF;
  WITH ins AS (
    INSERT INTO tasker.queue_messages (queue_name, vt, read_ct, message)
    SELECT tasker.worker_queue_name(t.namespace),
           CASE WHEN p_lease_seconds IS NULL THEN now() - t.priority_head_start_ms * interval '1 millisecond'
                ELSE clock_timestamp() + make_interval(secs => p_lease_seconds) END,
           CASE WHEN p_lease_seconds IS NULL THEN 0 ELSE 1 END,
           CASE WHEN t.traceparent IS NULL
                THEN jsonb_build_object('task_uuid', s.task_uuid, 'step_uuid', s.step_uuid, 'correlation_id', t.correlation_id)
                ELSE jsonb_build_object('task_uuid', s.task_uuid, 'step_uuid', s.step_uuid, 'correlation_id', t.correlation_id)
                     || jsonb_strip_nulls(jsonb_build_object('traceparent', t.traceparent, 'tracestate', t.tracestate))
           END
    FROM tasker.workflow_steps s JOIN tasker.tasks t ON t.task_uuid = s.task_uuid
    WHERE s.step_uuid = ANY(p_steps)
    -- within a task, in step-name order, so batch instances (`<worker>_000`, ...) start in batch order.
    ORDER BY t.priority DESC, s.task_uuid, s.name
    RETURNING queue_name, msg_id, (message->>'step_uuid')::uuid AS step_uuid
  )
  SELECT array_agg(DISTINCT ins.queue_name), array_agg(ins.step_uuid ORDER BY ins.msg_id),
         array_agg(ins.msg_id ORDER BY ins.msg_id)
  INTO v_queues, v_steps, v_msgs FROM ins;
  IF p_lease_seconds IS NULL THEN
    FOREACH v_queue IN ARRAY v_queues LOOP
      PERFORM pg_notify(tasker.queue_channel(v_queue), '');
    END LOOP;
  END IF;
  RETURN QUERY SELECT u.step_uuid, u.msg_id FROM unnest(v_steps, v_msgs) AS u(step_uuid, msg_id);
END $function$;
