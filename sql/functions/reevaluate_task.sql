-- ---------------------------------------------------------------------------------------------------------
-- Re-evaluation after an operator action: recount the task's steps and move it to the state they call for.
-- Counted as resolve_steps counts them: skipped steps and tolerated failures (a `continue` batch) are done, and
-- a tolerated failure does not fail the task. A complete or resolved_manually task is reopened only by a re-run
-- from a step (rerun_from_step, event Rerun).
-- ---------------------------------------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION tasker.reevaluate_task(p_task uuid, p_processor text, p_metadata jsonb)
 RETURNS text
 LANGUAGE plpgsql
AS $function$
DECLARE
  v_state text;
  v_total int;
  v_remaining int;
  v_in_flight int;
  v_errors int;
  v_retries int;
  v_ready uuid[];
  v_first jsonb;
  v_path text[];
  v_events text[];
BEGIN
  SELECT t.state INTO v_state FROM tasker.tasks t WHERE t.task_uuid = p_task;

  -- Steps that became ready (a reset step with no parents left, or dependents of a resolved step).
  IF v_state IN ('steps_in_process', 'waiting_for_retry', 'blocked_by_failures', 'error', 'complete',
                 'resolved_manually')
     AND NOT EXISTS (SELECT 1 FROM tasker.workflow_steps s
                     WHERE s.task_uuid = p_task AND s.state = 'error' AND NOT s.tolerate_failure) THEN
    WITH moved AS (
      UPDATE tasker.workflow_steps s SET state = 'enqueued', updated_at = now()
      WHERE s.task_uuid = p_task AND s.state = 'pending' AND s.pending_parents = 0
      RETURNING s.step_uuid
    )
    SELECT array_agg(moved.step_uuid) INTO v_ready FROM moved;
    IF v_ready IS NOT NULL THEN
      PERFORM tasker.log_step_transitions(v_ready, 'enqueued', 'Enqueue', p_processor);
      PERFORM tasker.send_step_messages(v_ready);
    END IF;
  END IF;

  SELECT count(*),
         count(*) FILTER (WHERE s.state NOT IN ('complete', 'resolved_manually', 'skipped')
                           AND NOT (s.state = 'error' AND s.tolerate_failure)),
         count(*) FILTER (WHERE s.state IN ('enqueued', 'in_progress', 'enqueued_for_orchestration',
                                            'enqueued_as_error_for_orchestration')),
         count(*) FILTER (WHERE s.state = 'error' AND NOT s.tolerate_failure),
         count(*) FILTER (WHERE s.state = 'waiting_for_retry'),
         (array_agg(jsonb_build_object('step_uuid', s.step_uuid, 'step_name', s.name, 'error', s.results->'error'))
            FILTER (WHERE s.state = 'error' AND NOT s.tolerate_failure))[1]
  INTO v_total, v_remaining, v_in_flight, v_errors, v_retries, v_first
  FROM tasker.workflow_steps s WHERE s.task_uuid = p_task;

  UPDATE tasker.tasks t SET steps_total = v_total, steps_remaining = v_remaining, steps_in_flight = v_in_flight,
         error = CASE WHEN v_errors > 0 THEN coalesce(t.error, v_first) ELSE NULL END, updated_at = now()
  WHERE t.task_uuid = p_task;

  -- First into evaluating_results (from wherever the task is), then to what the steps call for.
  v_path := CASE v_state
    WHEN 'steps_in_process' THEN ARRAY['evaluating_results']
    WHEN 'waiting_for_retry' THEN ARRAY['evaluating_results']
    WHEN 'blocked_by_failures' THEN ARRAY['evaluating_results']
    WHEN 'error' THEN ARRAY['evaluating_results']
    WHEN 'complete' THEN ARRAY['evaluating_results']
    WHEN 'resolved_manually' THEN ARRAY['evaluating_results']
    ELSE NULL END;
  v_events := CASE
    WHEN v_state = 'steps_in_process' THEN ARRAY['StepCompleted']
    WHEN v_state IN ('complete', 'resolved_manually') THEN ARRAY['Rerun']
    ELSE ARRAY['Resume'] END;
  IF v_path IS NULL THEN
    RAISE EXCEPTION 'task % is %; it cannot be re-evaluated', p_task, v_state USING ERRCODE = 'TK410';
  END IF;

  IF v_remaining = 0 THEN
    v_path := v_path || ARRAY['complete']; v_events := v_events || ARRAY['AllStepsSuccessful'];
  ELSIF v_errors > 0 AND v_in_flight > 0 THEN
    v_path := v_path || ARRAY['blocked_by_failures']; v_events := v_events || ARRAY['PermanentFailure'];
  ELSIF v_errors > 0 THEN
    v_path := v_path || ARRAY['blocked_by_failures', 'error']; v_events := v_events || ARRAY['PermanentFailure', 'GiveUp'];
  ELSIF v_ready IS NOT NULL THEN
    v_path := v_path || ARRAY['enqueuing_steps', 'steps_in_process'];
    v_events := v_events || ARRAY['ReadyStepsFound', 'StepsEnqueued'];
  ELSIF v_in_flight > 0 THEN
    v_path := v_path || ARRAY['steps_in_process']; v_events := v_events || ARRAY['StepsStillInProcess'];
  ELSIF v_retries > 0 THEN
    v_path := v_path || ARRAY['waiting_for_retry']; v_events := v_events || ARRAY['RetryScheduled'];
  ELSE
    v_path := v_path || ARRAY['waiting_for_dependencies']; v_events := v_events || ARRAY['NoDependenciesReady'];
  END IF;

  PERFORM tasker.move_tasks(ARRAY[p_task], v_path, v_events, p_processor, p_metadata);

  -- A failed task that an operator brought back closes its open dead-letter entry.
  IF v_state = 'error' AND v_path[cardinality(v_path)] <> 'error' THEN
    UPDATE tasker.tasks_dlq SET resolution_status = 'manually_resolved', resolution_timestamp = now(),
           resolution_notes = coalesce(resolution_notes,
             CASE WHEN p_metadata->>'action' = 'rerun_from'
                  THEN format('task re-run from step %s by an operator', p_metadata->>'origin_step_name')
                  ELSE 'task resumed by an operator action on a step' END),
           resolved_by = coalesce(resolved_by, p_metadata->>'by'), updated_at = now()
    WHERE task_uuid = p_task AND resolution_status = 'pending';
  END IF;
  IF v_path[cardinality(v_path)] = 'error' AND v_state <> 'error' THEN
    PERFORM tasker.record_failed_tasks(ARRAY[p_task]);
  END IF;
  PERFORM tasker.notify_task_events(ARRAY[p_task]);
  RETURN v_path[cardinality(v_path)];
END $function$;
