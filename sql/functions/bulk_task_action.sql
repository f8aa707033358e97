-- ---------------------------------------------------------------------------------------------------------
-- One chunk of a bulk operator action (POST /v1/tasks/bulk), in the caller's transaction: the tasks are locked
-- in uuid order and each is changed exactly as the single action would change it, or left alone when the action
-- does not apply to it (any more):
--   cancel        a task that can still be cancelled: cancel_task (steps cancelled, workers told, audited)
--   retry_failed  a failed or blocked task: every step that failed for good (not a tolerated failure) back to
--                 pending with attempts 0, audited as ResetForRetry like apply_step_action's reset_for_retry,
--                 then the task re-evaluated once (it resumes; its open dead-letter entry is closed)
-- Returns the tasks changed.
-- ---------------------------------------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION tasker.bulk_task_action(p_action text, p_tasks uuid[], p_reason text, p_by text, p_processor text)
 RETURNS TABLE(task_uuid uuid)
 LANGUAGE plpgsql
AS $function$
#variable_conflict use_column
DECLARE
  v_task record;
  v_steps uuid[];
  v_meta jsonb := jsonb_build_object('action', 'reset_for_retry', 'reason', p_reason, 'by', p_by, 'bulk', true);
BEGIN
  IF p_action IS NULL OR p_action NOT IN ('cancel', 'retry_failed') THEN
    RAISE EXCEPTION 'unknown bulk action %', p_action USING ERRCODE = 'TK422';
  END IF;
  FOR v_task IN
    SELECT t.task_uuid, t.state FROM tasker.tasks t WHERE t.task_uuid = ANY(p_tasks) ORDER BY t.task_uuid FOR UPDATE
  LOOP
    IF p_action = 'cancel' THEN
      CONTINUE WHEN NOT tasker.is_allowed_task_transition(v_task.state, 'cancelled');
      PERFORM tasker.cancel_task(v_task.task_uuid, p_reason, p_by, p_processor);
    ELSE
      CONTINUE WHEN v_task.state NOT IN ('error', 'blocked_by_failures');
      WITH moved AS (
        UPDATE tasker.workflow_steps s SET state = 'pending', attempts = 0, next_retry_at = NULL, updated_at = now()
        WHERE s.task_uuid = v_task.task_uuid AND s.state = 'error' AND NOT s.tolerate_failure
        RETURNING s.step_uuid
      )
      SELECT array_agg(moved.step_uuid ORDER BY moved.step_uuid) INTO v_steps FROM moved;
      CONTINUE WHEN v_steps IS NULL;
      PERFORM tasker.log_step_transitions(v_steps, 'pending', 'ResetForRetry', p_processor, v_meta);
      PERFORM tasker.reevaluate_task(v_task.task_uuid, p_processor, v_meta);
    END IF;
    task_uuid := v_task.task_uuid;
    RETURN NEXT;
  END LOOP;
END $function$;
