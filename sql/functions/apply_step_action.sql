-- ---------------------------------------------------------------------------------------------------------
-- Operator actions on one step, each in one transaction with the task re-evaluated (so a blocked or failed
-- task really resumes):
--   reset_for_retry   error -> pending with attempts = 0 (enqueued at once when its parents are done)
--   resolve_manually  -> resolved_manually (satisfies dependents, no result)
--   complete_manually -> complete with the given result (dependents can read it)
-- Returns the step's new state and the task's.
-- ---------------------------------------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION tasker.apply_step_action(p_task uuid, p_step uuid, p_action text, p_result jsonb, p_reason text, p_by text, p_processor text)
 RETURNS TABLE(step_state text, task_state text)
 LANGUAGE plpgsql
AS $function$
#variable_conflict use_column
DECLARE
  v_task_state text;
  v_step record;
  v_to text;
  v_event text;
  v_meta jsonb := jsonb_build_object('action', p_action, 'reason', p_reason, 'by', p_by);
  v_task_after text;
BEGIN
  SELECT t.state INTO v_task_state FROM tasker.tasks t WHERE t.task_uuid = p_task FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'task % not found', p_task USING ERRCODE = 'TK405';
  END IF;
  SELECT s.step_uuid, s.state, s.name INTO v_step FROM tasker.workflow_steps s
  WHERE s.step_uuid = p_step AND s.task_uuid = p_task FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'step % not found in task %', p_step, p_task USING ERRCODE = 'TK406';
  END IF;
  IF v_task_state IN ('complete', 'cancelled', 'resolved_manually') THEN
    RAISE EXCEPTION 'task % is %; its steps can no longer be changed', p_task, v_task_state USING ERRCODE = 'TK410';
  END IF;

  CASE p_action
    WHEN 'reset_for_retry' THEN v_to := 'pending'; v_event := 'ResetForRetry';
    WHEN 'resolve_manually' THEN v_to := 'resolved_manually'; v_event := 'ResolveManually';
    WHEN 'complete_manually' THEN v_to := 'complete'; v_event := 'CompleteManually';
    ELSE RAISE EXCEPTION 'unknown step action %', p_action USING ERRCODE = 'TK422';
  END CASE;
  IF (p_action = 'reset_for_retry' AND v_step.state <> 'error')
     OR NOT tasker.is_allowed_step_transition(v_step.state, v_to) THEN
    RAISE EXCEPTION 'step % is %; % is not allowed from that state', v_step.name, v_step.state, p_action
      USING ERRCODE = 'TK410';
  END IF;

  UPDATE tasker.workflow_steps s SET
    state = v_to,
    attempts = CASE WHEN p_action = 'reset_for_retry' THEN 0 ELSE s.attempts END,
    next_retry_at = NULL,
    processed_at = CASE WHEN v_to IN ('complete', 'resolved_manually') THEN now() ELSE s.processed_at END,
    results = CASE WHEN p_action = 'complete_manually' THEN jsonb_build_object(
                'success', true, 'result', p_result,
                'metadata', jsonb_build_object('manually_completed', true, 'completed_by', p_by, 'reason', p_reason))
              ELSE s.results END,
    updated_at = now()
  WHERE s.step_uuid = p_step;
  PERFORM tasker.log_step_transitions(ARRAY[p_step], v_to, v_event, p_processor, v_meta);

  -- A done step releases its dependents, exactly as a completed step does.
  IF v_to IN ('complete', 'resolved_manually') THEN
    UPDATE tasker.workflow_steps c SET pending_parents = c.pending_parents - 1
    WHERE c.step_uuid IN (SELECT e.to_step_uuid FROM tasker.workflow_step_edges e WHERE e.from_step_uuid = p_step);
  END IF;

  v_task_after := tasker.reevaluate_task(p_task, p_processor, v_meta);
  RETURN QUERY SELECT v_to, v_task_after;
END $function$;
