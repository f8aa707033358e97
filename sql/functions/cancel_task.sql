-- ---------------------------------------------------------------------------------------------------------
-- Cancellation: every step that is not finished becomes cancelled, then the task. Workers running a step of
-- the task are told on `tasker_cancellations` (payload: the task uuid) and abort the handler's signal; their
-- late outcome is refused by the compare-and-swap on the step's state.
-- ---------------------------------------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION tasker.cancel_task(p_task uuid, p_reason text, p_by text, p_processor text)
 RETURNS TABLE(task_state text, steps_cancelled integer)
 LANGUAGE plpgsql
AS $function$
#variable_conflict use_column
DECLARE
  v_state text;
  v_steps uuid[];
  v_meta jsonb := jsonb_build_object('reason', p_reason, 'by', p_by);
BEGIN
  SELECT t.state INTO v_state FROM tasker.tasks t WHERE t.task_uuid = p_task FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'task % not found', p_task USING ERRCODE = 'TK405';
  END IF;
  IF NOT tasker.is_allowed_task_transition(v_state, 'cancelled') THEN
    RAISE EXCEPTION 'task % is %; only a task that is still running or waiting can be cancelled', p_task, v_state
      USING ERRCODE = 'TK410';
  END IF;

  WITH moved AS (
    UPDATE tasker.workflow_steps s SET state = 'cancelled', processed_at = now(), next_retry_at = NULL,
           updated_at = now()
    WHERE s.task_uuid = p_task AND s.state NOT IN ('complete', 'cancelled', 'resolved_manually')
    RETURNING s.step_uuid
  )
  SELECT array_agg(moved.step_uuid) INTO v_steps FROM moved;
  IF v_steps IS NOT NULL THEN
    PERFORM tasker.log_step_transitions(v_steps, 'cancelled', 'Cancel', p_processor, v_meta);
  END IF;

  UPDATE tasker.tasks SET steps_in_flight = 0 WHERE task_uuid = p_task;
  PERFORM tasker.move_tasks(ARRAY[p_task], ARRAY['cancelled'], ARRAY['Cancel'], p_processor, v_meta);
  PERFORM pg_notify('tasker_cancellations', p_task::text);
  PERFORM tasker.notify_task_events(ARRAY[p_task]);
  RETURN QUERY SELECT 'cancelled'::text, coalesce(cardinality(v_steps), 0);
END $function$;
