-- ---------------------------------------------------------------------------------------------------------
-- Orchestration timer: re-enqueue steps whose retry backoff has elapsed. Tasks held by another orchestrator
-- are skipped (they are picked up on the next tick). Returns the earliest future retry time, so the caller can
-- sleep exactly until then.
-- ---------------------------------------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION tasker.enqueue_due_retries(p_limit integer, p_processor text)
 RETURNS TABLE(steps_enqueued integer, next_retry_at timestamp with time zone)
 LANGUAGE plpgsql
 SET plan_cache_mode TO 'force_generic_plan'
 SET enable_seqscan TO 'off'
 SET enable_mergejoin TO 'off'
 SET enable_hashjoin TO 'off'
 SET jit TO 'off'
AS $function$
#variable_conflict use_column
DECLARE
  v_tasks uuid[];
  v_steps uuid[];
  v_waiting uuid[];
BEGIN
  WITH due AS (
    SELECT s.task_uuid FROM tasker.workflow_steps s
    WHERE s.state = 'waiting_for_retry' AND s.next_retry_at <= now()
    ORDER BY s.next_retry_at
    LIMIT p_limit
  ), locked AS (
    SELECT t.task_uuid FROM tasker.tasks t
    WHERE t.task_uuid IN (SELECT due.task_uuid FROM due) AND t.state IN ('steps_in_process', 'waiting_for_retry')
    ORDER BY t.task_uuid
    FOR UPDATE SKIP LOCKED
  )
  SELECT array_agg(locked.task_uuid) INTO v_tasks FROM locked;

  IF v_tasks IS NOT NULL THEN
    WITH moved AS (
      UPDATE tasker.workflow_steps s SET state = 'enqueued', next_retry_at = NULL, updated_at = now()
      WHERE s.task_uuid = ANY(v_tasks) AND s.state = 'waiting_for_retry' AND s.next_retry_at <= now()
      RETURNING s.step_uuid
    )
    SELECT array_agg(moved.step_uuid) INTO v_steps FROM moved;

    PERFORM tasker.log_step_transitions(v_steps, 'pending', 'Retry', p_processor);
    PERFORM tasker.log_step_transitions(v_steps, 'enqueued', 'Enqueue', p_processor);
    PERFORM tasker.send_step_messages(v_steps);

    WITH per_task AS (
      SELECT s.task_uuid, count(*)::int AS n FROM tasker.workflow_steps s WHERE s.step_uuid = ANY(v_steps)
      GROUP BY s.task_uuid
    ), upd AS (
      UPDATE tasker.tasks t SET steps_in_flight = t.steps_in_flight + p.n, updated_at = now()
      FROM per_task p WHERE t.task_uuid = ANY(v_tasks) AND t.task_uuid = p.task_uuid
      RETURNING t.task_uuid, t.state
    )
    SELECT array_agg(upd.task_uuid) FILTER (WHERE upd.state = 'waiting_for_retry') INTO v_waiting FROM upd;

    PERFORM tasker.move_tasks(v_waiting, ARRAY['enqueuing_steps', 'steps_in_process'],
                              ARRAY['RetryReady', 'StepsEnqueued'], p_processor);
    PERFORM tasker.notify_task_events(v_tasks);
  END IF;

  RETURN QUERY
    SELECT coalesce(cardinality(v_steps), 0),
           (SELECT min(s.next_retry_at) FROM tasker.workflow_steps s JOIN tasker.tasks t ON t.task_uuid = s.task_uuid
            WHERE s.state = 'waiting_for_retry' AND t.state IN ('steps_in_process', 'waiting_for_retry'));
END $function$;
