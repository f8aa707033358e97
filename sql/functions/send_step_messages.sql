-- Step messages are sent (and so claimed, among equal visibility times) in step-name order within a task; batch
-- instances, created together, then start in batch order instead of UUIDv7 order, which is random within a
-- millisecond.
CREATE OR REPLACE FUNCTION tasker.send_step_messages(p_steps uuid[])
 RETURNS void
 LANGUAGE plpgsql
 SET plan_cache_mode TO 'force_generic_plan'
 SET enable_seqscan TO 'off'
 SET enable_mergejoin TO 'off'
 SET enable_hashjoin TO 'off'
 SET jit TO 'off'
AS $function$
DECLARE
  v_queue text;
BEGIN
  IF p_steps IS NULL OR cardinality(p_steps) = 0 THEN RETURN; END IF;
  FOR v_queue IN
    WITH ins AS (
      INSERT INTO tasker.queue_messages (queue_name, vt, message)
      SELECT tasker.worker_queue_name(t.namespace),
             now() - t.priority_head_start_ms * interval '1 millisecond',
             CASE WHEN t.traceparent IS NULL
                  THEN jsonb_build_object('task_uuid', s.task_uuid, 'step_uuid', s.step_uuid, 'correlation_id', t.correlation_id)
                  ELSE jsonb_build_object('task_uuid', s.task_uuid, 'step_uuid', s.step_uuid, 'correlation_id', t.correlation_id)
                       || jsonb_strip_nulls(jsonb_build_object('traceparent', t.traceparent, 'tracestate', t.tracestate))
             END
      FROM tasker.workflow_steps s JOIN tasker.tasks t ON t.task_uuid = s.task_uuid
      WHERE s.step_uuid = ANY(p_steps)
      -- within a task, in step-name order, so batch instances (`<worker>_000`, ...) start in batch order.
      ORDER BY t.priority DESC, s.task_uuid, s.name
      RETURNING queue_name
    )
    SELECT DISTINCT queue_name FROM ins
  LOOP
    PERFORM pg_notify(tasker.queue_channel(v_queue), '');
  END LOOP;
END $function$;
