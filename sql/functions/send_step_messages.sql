-- Step messages are sent (and so claimed, among equal visibility times) in step-name order within a task; batch
-- instances, created together, then start in batch order instead of UUIDv7 order, which is random within a
-- millisecond. With p_lease_seconds the messages of the steps in p_leased (all of p_steps when it is NULL) are
-- written already leased (invisible for that long, read once) and nobody is notified of them: the caller has
-- claimed those steps for itself. The queues of the others are notified. Returns each step's message.
CREATE OR REPLACE FUNCTION tasker.send_step_messages(p_steps uuid[], p_lease_seconds double precision DEFAULT NULL,
  p_leased uuid[] DEFAULT NULL)
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
  v_notify text[];
  v_steps uuid[];
  v_msgs bigint[];
BEGIN
  IF p_steps IS NULL OR cardinality(p_steps) = 0 THEN RETURN; END IF;
  WITH msg AS (
    SELECT s.step_uuid, s.task_uuid, s.name, t.namespace, t.priority, t.priority_head_start_ms, t.correlation_id,
           t.traceparent, t.tracestate,
           p_lease_seconds IS NOT NULL AND (p_leased IS NULL OR s.step_uuid = ANY(p_leased)) AS leased
    FROM tasker.workflow_steps s JOIN tasker.tasks t ON t.task_uuid = s.task_uuid
    WHERE s.step_uuid = ANY(p_steps)
  ), ins AS (
    INSERT INTO tasker.queue_messages (queue_name, vt, read_ct, message)
    SELECT tasker.worker_queue_name(m.namespace),
           CASE WHEN m.leased THEN clock_timestamp() + make_interval(secs => p_lease_seconds)
                ELSE now() - m.priority_head_start_ms * interval '1 millisecond' END,
           CASE WHEN m.leased THEN 1 ELSE 0 END,
           CASE WHEN m.traceparent IS NULL
                THEN jsonb_build_object('task_uuid', m.task_uuid, 'step_uuid', m.step_uuid, 'correlation_id', m.correlation_id)
                ELSE jsonb_build_object('task_uuid', m.task_uuid, 'step_uuid', m.step_uuid, 'correlation_id', m.correlation_id)
                     || jsonb_strip_nulls(jsonb_build_object('traceparent', m.traceparent, 'tracestate', m.tracestate))
           END
    FROM msg m
    -- within a task, in step-name order, so batch instances (`<worker>_000`, ...) start in batch order.
    ORDER BY m.priority DESC, m.task_uuid, m.name
    RETURNING queue_name, msg_id, read_ct = 1 AS leased, (message->>'step_uuid')::uuid AS step_uuid
  )
  SELECT array_agg(DISTINCT ins.queue_name) FILTER (WHERE NOT ins.leased), array_agg(ins.step_uuid ORDER BY ins.msg_id),
         array_agg(ins.msg_id ORDER BY ins.msg_id)
  INTO v_notify, v_steps, v_msgs FROM ins;
  FOREACH v_queue IN ARRAY coalesce(v_notify, '{}') LOOP
    PERFORM pg_notify(tasker.queue_channel(v_queue), '');
  END LOOP;
  RETURN QUERY SELECT u.step_uuid, u.msg_id FROM unnest(v_steps, v_msgs) AS u(step_uuid, msg_id);
END $function$;
