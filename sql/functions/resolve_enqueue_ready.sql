-- Part of resolve_steps: enqueues the steps that became ready, except in tasks with a failure (now or before),
-- which enqueue nothing new: they are on their way to error. Returns the steps enqueued.
CREATE OR REPLACE FUNCTION tasker.resolve_enqueue_ready(p_ready uuid[], p_failed uuid[], p_processor text,
  OUT enqueued uuid[])
 LANGUAGE plpgsql
 SET plan_cache_mode TO 'force_generic_plan'
 SET enable_seqscan TO 'off'
 SET enable_mergejoin TO 'off'
 SET enable_hashjoin TO 'off'
 SET jit TO 'off'
AS $function$
DECLARE
  v_failing_tasks uuid[];
BEGIN
  -- Tasks with a failure (now or before) enqueue nothing new: they are on their way to error.
  enqueued := '{}';
  IF cardinality(p_ready) > 0 THEN
    IF cardinality(p_failed) > 0 THEN
      SELECT coalesce(array_agg(DISTINCT s.task_uuid), '{}') INTO v_failing_tasks
      FROM tasker.workflow_steps s WHERE s.step_uuid = ANY(p_failed);
    ELSE
      v_failing_tasks := '{}';
    END IF;
    SELECT coalesce(array_agg(c.step_uuid), '{}') INTO enqueued
    FROM tasker.workflow_steps c JOIN tasker.tasks t ON t.task_uuid = c.task_uuid
    WHERE c.step_uuid = ANY(p_ready) AND t.state = 'steps_in_process' AND NOT (t.task_uuid = ANY(v_failing_tasks));
  END IF;

  IF cardinality(enqueued) > 0 THEN
    UPDATE tasker.workflow_steps SET state = 'enqueued', updated_at = now() WHERE step_uuid = ANY(enqueued);
    PERFORM tasker.log_step_transitions(enqueued, 'enqueued', 'Enqueue', p_processor);
    PERFORM tasker.send_step_messages(enqueued);
  END IF;
END $function$;
