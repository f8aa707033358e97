-- Operations on tasks, steps, templates and the dead-letter queue, for the REST API, the CLI and library users.
-- None of these is on the per-step path. SQLSTATEs: TK405 task not found, TK406 step not found, TK407 DLQ entry
-- not found, TK410 transition not allowed, TK422 invalid input.

-- ---------------------------------------------------------------------------------------------------------
-- Reads
-- ---------------------------------------------------------------------------------------------------------

-- How far a step is from running, for people reading a task.
CREATE OR REPLACE FUNCTION tasker.step_readiness(p_state text, p_pending_parents int) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE
    WHEN p_state = 'pending' AND p_pending_parents = 0 THEN 'ready'
    WHEN p_state = 'pending' THEN 'waiting_for_dependencies'
    WHEN p_state = 'waiting_for_retry' THEN 'waiting_for_retry'
    WHEN p_state IN ('enqueued', 'in_progress', 'enqueued_for_orchestration',
                     'enqueued_as_error_for_orchestration') THEN 'running'
    WHEN p_state IN ('complete', 'resolved_manually') THEN 'done'
    WHEN p_state = 'error' THEN 'failed'
    ELSE 'cancelled'
  END
$$;

-- A task with all its steps, as one JSON document (NULL when the task does not exist).
CREATE OR REPLACE FUNCTION tasker.get_task_view(p_task uuid) RETURNS jsonb
LANGUAGE sql STABLE AS $$
  SELECT jsonb_build_object(
    'task_uuid', t.task_uuid, 'namespace', t.namespace, 'name', tp.name, 'version', tp.version, 'state', t.state,
    'context', t.context, 'priority', t.priority, 'tags', t.tags, 'correlation_id', t.correlation_id,
    'parent_correlation_id', t.parent_correlation_id, 'initiator', t.initiator, 'source_system', t.source_system,
    'reason', t.reason, 'steps_total', t.steps_total, 'steps_remaining', t.steps_remaining, 'error', t.error,
    'created_at', t.created_at, 'updated_at', t.updated_at, 'completed_at', t.completed_at,
    'steps', coalesce((
      SELECT jsonb_agg(jsonb_build_object(
          'step_uuid', s.step_uuid, 'name', s.name, 'handler', s.handler, 'state', s.state,
          'readiness', tasker.step_readiness(s.state, s.pending_parents),
          'attempts', s.attempts, 'max_attempts', s.max_attempts, 'results', s.results,
          'next_retry_at', s.next_retry_at, 'processed_at', s.processed_at,
          'depends_on', coalesce((SELECT jsonb_agg(p.name ORDER BY p.name)
                                  FROM tasker.workflow_step_edges e
                                  JOIN tasker.workflow_steps p ON p.step_uuid = e.from_step_uuid
                                  WHERE e.to_step_uuid = s.step_uuid), '[]'::jsonb))
        ORDER BY ts.position NULLS LAST, s.name)
      FROM tasker.workflow_steps s
      LEFT JOIN tasker.template_steps ts ON ts.template_uuid = t.template_uuid AND ts.name = s.name
      WHERE s.task_uuid = t.task_uuid), '[]'::jsonb))
  FROM tasker.tasks t JOIN tasker.templates tp ON tp.template_uuid = t.template_uuid
  WHERE t.task_uuid = p_task
$$;

-- One page of tasks, newest first (task uuids are UUIDv7, so uuid order is creation order). p_filter keys, all
-- optional: namespace, name, version, states (array), created_from, created_to, tags (array: all required).
CREATE OR REPLACE FUNCTION tasker.list_tasks(p_filter jsonb, p_before uuid, p_limit int)
RETURNS TABLE (task_uuid uuid, namespace text, name text, version text, state text, priority int, tags jsonb,
               correlation_id uuid, steps_total int, steps_remaining int, created_at timestamptz,
               completed_at timestamptz)
LANGUAGE sql STABLE AS $$
  SELECT t.task_uuid, t.namespace::text, tp.name::text, tp.version::text, t.state, t.priority, t.tags,
         t.correlation_id, t.steps_total, t.steps_remaining, t.created_at, t.completed_at
  FROM tasker.tasks t JOIN tasker.templates tp ON tp.template_uuid = t.template_uuid
  WHERE (p_before IS NULL OR t.task_uuid < p_before)
    AND (p_filter->>'namespace' IS NULL OR t.namespace = p_filter->>'namespace')
    AND (p_filter->>'name' IS NULL OR tp.name = p_filter->>'name')
    AND (p_filter->>'version' IS NULL OR tp.version = p_filter->>'version')
    AND (p_filter->'states' IS NULL OR t.state = ANY (ARRAY(SELECT jsonb_array_elements_text(p_filter->'states'))))
    AND (p_filter->>'created_from' IS NULL OR t.created_at >= (p_filter->>'created_from')::timestamptz)
    AND (p_filter->>'created_to' IS NULL OR t.created_at < (p_filter->>'created_to')::timestamptz)
    AND (p_filter->'tags' IS NULL OR t.tags @> (p_filter->'tags'))
  ORDER BY t.task_uuid DESC
  LIMIT p_limit
$$;

-- The audit trail of a task: its own transitions and its steps' (or one step's), oldest first.
CREATE OR REPLACE FUNCTION tasker.task_transition_history(p_task uuid, p_step uuid DEFAULT NULL)
RETURNS TABLE (entity text, step_uuid uuid, step_name text, from_state text, to_state text, event text,
               sort_key int, metadata jsonb, processor text, created_at timestamptz)
LANGUAGE sql STABLE AS $$
  SELECT * FROM (
    SELECT 'task'::text AS entity, NULL::uuid AS step_uuid, NULL::text AS step_name, tt.from_state, tt.to_state,
           tt.event, tt.sort_key, tt.metadata, tt.processor, tt.created_at
    FROM tasker.task_transitions tt
    WHERE p_step IS NULL AND tt.task_uuid = p_task
    UNION ALL
    SELECT 'step'::text, s.step_uuid, s.name::text, st.from_state, st.to_state, st.event, st.sort_key, st.metadata,
           st.processor, st.created_at
    FROM tasker.workflow_steps s JOIN tasker.workflow_step_transitions st ON st.step_uuid = s.step_uuid
    WHERE s.task_uuid = p_task AND (p_step IS NULL OR s.step_uuid = p_step)
  ) h
  ORDER BY h.created_at, h.entity DESC, h.step_uuid NULLS FIRST, h.sort_key
$$;

CREATE OR REPLACE FUNCTION tasker.list_templates()
RETURNS TABLE (template_uuid uuid, namespace text, name text, version text, description text,
               identity_strategy text, step_count int, created_at timestamptz)
LANGUAGE sql STABLE AS $$
  SELECT t.template_uuid, t.namespace::text, t.name::text, t.version::text, t.description, t.identity_strategy,
         (SELECT count(*)::int FROM tasker.template_steps s WHERE s.template_uuid = t.template_uuid), t.created_at
  FROM tasker.templates t
  ORDER BY t.namespace, t.name, string_to_array(regexp_replace(t.version, '[-+].*$', ''), '.')::int[] DESC
$$;

-- ---------------------------------------------------------------------------------------------------------
-- Re-evaluation after an operator action: recount the task's steps and move it to the state they call for.
-- ---------------------------------------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION tasker.reevaluate_task(p_task uuid, p_processor text, p_metadata jsonb)
RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
  v_state text;
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
  IF v_state IN ('steps_in_process', 'waiting_for_retry', 'blocked_by_failures', 'error')
     AND NOT EXISTS (SELECT 1 FROM tasker.workflow_steps s WHERE s.task_uuid = p_task AND s.state = 'error') THEN
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

  SELECT count(*) FILTER (WHERE s.state NOT IN ('complete', 'resolved_manually')),
         count(*) FILTER (WHERE s.state IN ('enqueued', 'in_progress', 'enqueued_for_orchestration',
                                            'enqueued_as_error_for_orchestration')),
         count(*) FILTER (WHERE s.state = 'error'),
         count(*) FILTER (WHERE s.state = 'waiting_for_retry'),
         (array_agg(jsonb_build_object('step_uuid', s.step_uuid, 'step_name', s.name, 'error', s.results->'error'))
            FILTER (WHERE s.state = 'error'))[1]
  INTO v_remaining, v_in_flight, v_errors, v_retries, v_first
  FROM tasker.workflow_steps s WHERE s.task_uuid = p_task;

  UPDATE tasker.tasks t SET steps_remaining = v_remaining, steps_in_flight = v_in_flight,
         error = CASE WHEN v_errors > 0 THEN coalesce(t.error, v_first) ELSE NULL END, updated_at = now()
  WHERE t.task_uuid = p_task;

  -- First into evaluating_results (from wherever the task is), then to what the steps call for.
  v_path := CASE v_state
    WHEN 'steps_in_process' THEN ARRAY['evaluating_results']
    WHEN 'waiting_for_retry' THEN ARRAY['evaluating_results']
    WHEN 'blocked_by_failures' THEN ARRAY['evaluating_results']
    WHEN 'error' THEN ARRAY['evaluating_results']
    ELSE NULL END;
  v_events := CASE v_state WHEN 'steps_in_process' THEN ARRAY['StepCompleted'] ELSE ARRAY['Resume'] END;
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
           resolution_notes = coalesce(resolution_notes, 'task resumed by an operator action on a step'),
           resolved_by = coalesce(resolved_by, p_metadata->>'by'), updated_at = now()
    WHERE task_uuid = p_task AND resolution_status = 'pending';
  END IF;
  IF v_path[cardinality(v_path)] = 'error' AND v_state <> 'error' THEN
    PERFORM tasker.record_failed_tasks(ARRAY[p_task]);
  END IF;
  PERFORM tasker.notify_task_events(ARRAY[p_task]);
  RETURN v_path[cardinality(v_path)];
END $$;

-- ---------------------------------------------------------------------------------------------------------
-- Operator actions on one step, each in one transaction with the task re-evaluated (so a blocked or failed
-- task really resumes):
--   reset_for_retry   error -> pending with attempts = 0 (enqueued at once when its parents are done)
--   resolve_manually  -> resolved_manually (satisfies dependents, no result)
--   complete_manually -> complete with the given result (dependents can read it)
-- Returns the step's new state and the task's.
-- ---------------------------------------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION tasker.apply_step_action(
  p_task uuid, p_step uuid, p_action text, p_result jsonb, p_reason text, p_by text, p_processor text)
RETURNS TABLE (step_state text, task_state text)
LANGUAGE plpgsql AS $$
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
END $$;

-- ---------------------------------------------------------------------------------------------------------
-- Cancellation: every step that is not finished becomes cancelled, then the task. Workers running a step of
-- the task are told on `tasker_cancellations` (payload: the task uuid) and abort the handler's signal; their
-- late outcome is refused by the compare-and-swap on the step's state.
-- ---------------------------------------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION tasker.cancel_task(p_task uuid, p_reason text, p_by text, p_processor text)
RETURNS TABLE (task_state text, steps_cancelled int)
LANGUAGE plpgsql AS $$
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
END $$;

-- ---------------------------------------------------------------------------------------------------------
-- Dead-letter queue
-- ---------------------------------------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION tasker.list_dlq(p_status text, p_reason text, p_before uuid, p_limit int)
RETURNS SETOF tasker.tasks_dlq
LANGUAGE sql STABLE AS $$
  SELECT * FROM tasker.tasks_dlq d
  WHERE (p_status IS NULL OR d.resolution_status = p_status)
    AND (p_reason IS NULL OR d.dlq_reason = p_reason)
    AND (p_before IS NULL OR d.dlq_entry_uuid < p_before)
  ORDER BY d.dlq_entry_uuid DESC
  LIMIT p_limit
$$;

-- Partial update: only the given fields change; setting a status stamps resolution_timestamp.
CREATE OR REPLACE FUNCTION tasker.update_dlq(p_entry uuid, p_status text, p_notes text, p_by text)
RETURNS SETOF tasker.tasks_dlq
LANGUAGE plpgsql AS $$
BEGIN
  RETURN QUERY
    UPDATE tasker.tasks_dlq d SET
      resolution_status = coalesce(p_status, d.resolution_status),
      resolution_timestamp = CASE WHEN p_status IS NOT NULL THEN now() ELSE d.resolution_timestamp END,
      resolution_notes = coalesce(p_notes, d.resolution_notes),
      resolved_by = coalesce(p_by, d.resolved_by),
      updated_at = now()
    WHERE d.dlq_entry_uuid = p_entry
    RETURNING d.*;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'dead-letter entry % not found', p_entry USING ERRCODE = 'TK407';
  END IF;
END $$;
