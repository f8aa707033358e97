-- Files a dead-letter entry for each task that just ended in error (at most one open entry per task), with the
-- reason taken from the step error that failed it.
CREATE OR REPLACE FUNCTION tasker.record_failed_tasks(p_tasks uuid[])
 RETURNS void
 LANGUAGE plpgsql
 SET plan_cache_mode TO 'force_generic_plan'
 SET enable_seqscan TO 'off'
 SET enable_mergejoin TO 'off'
 SET enable_hashjoin TO 'off'
 SET jit TO 'off'
AS $function$
BEGIN
  INSERT INTO tasker.tasks_dlq (task_uuid, original_state, dlq_reason, task_snapshot, metadata)
  SELECT t.task_uuid, t.state,
         CASE
           WHEN t.error->'error'->>'code' = 'LEASE_EXPIRED' THEN 'worker_unavailable'
           WHEN coalesce((t.error->'error'->>'retryable')::boolean, true) = false THEN 'permanent_failure'
           ELSE 'max_retries_exceeded'
         END,
         jsonb_build_object('task_uuid', t.task_uuid, 'namespace', t.namespace, 'task_name', tp.name,
                            'version', tp.version, 'state', t.state, 'error', t.error,
                            'correlation_id', t.correlation_id, 'priority', t.priority,
                            'created_at', t.created_at, 'snapshot_at', now()),
         jsonb_build_object('detection_method', 'step_failure')
  FROM tasker.tasks t JOIN tasker.templates tp ON tp.template_uuid = t.template_uuid
  WHERE t.task_uuid = ANY(p_tasks)
  ON CONFLICT (task_uuid) WHERE resolution_status = 'pending' DO NOTHING;
END $function$;
