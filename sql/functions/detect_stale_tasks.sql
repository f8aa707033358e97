CREATE OR REPLACE FUNCTION tasker.detect_stale_tasks(p_thresholds jsonb, p_limit integer, p_dry_run boolean, p_processor text)
 RETURNS TABLE(task_uuid uuid, state text, seconds_in_state double precision, age_seconds double precision, action text)
 LANGUAGE plpgsql
AS $function$
#variable_conflict use_column
DECLARE
  r record;
  v_path text[];
  v_events text[];
BEGIN
  FOR r IN
    SELECT t.task_uuid, t.state, extract(epoch FROM now() - tr.created_at) AS in_state,
           extract(epoch FROM now() - t.created_at) AS age
    FROM tasker.tasks t
    -- the row that moved the task into its current state: the last of its trail (ADR 0013)
    CROSS JOIN LATERAL (SELECT x.created_at FROM tasker.task_transitions x WHERE x.task_uuid = t.task_uuid
                        ORDER BY x.sort_key DESC LIMIT 1) tr
    WHERE t.state IN ('steps_in_process', 'waiting_for_retry', 'blocked_by_failures', 'waiting_for_dependencies')
      AND (
        (t.state = 'steps_in_process'
           AND tr.created_at < now() - make_interval(secs => (p_thresholds->>'steps_in_process_seconds')::double precision))
        OR (t.state = 'waiting_for_retry'
           AND tr.created_at < now() - make_interval(secs => (p_thresholds->>'waiting_for_retry_seconds')::double precision))
        OR (t.state IN ('blocked_by_failures', 'waiting_for_dependencies')
           AND tr.created_at < now() - make_interval(secs => (p_thresholds->>'blocked_by_failures_seconds')::double precision))
        OR t.created_at < now() - make_interval(secs => (p_thresholds->>'max_lifetime_seconds')::double precision)
      )
    ORDER BY tr.created_at
    LIMIT p_limit
    FOR UPDATE OF t SKIP LOCKED
  LOOP
    IF p_dry_run THEN
      RETURN QUERY SELECT r.task_uuid, r.state, r.in_state::double precision, r.age::double precision,
                          'would_move_to_error'::text;
      CONTINUE;
    END IF;
    v_path := CASE r.state
      WHEN 'blocked_by_failures' THEN ARRAY['error']
      ELSE ARRAY['evaluating_results', 'blocked_by_failures', 'error'] END;
    v_events := CASE r.state
      WHEN 'blocked_by_failures' THEN ARRAY['GiveUp']
      WHEN 'steps_in_process' THEN ARRAY['StepCompleted', 'PermanentFailure', 'GiveUp']
      ELSE ARRAY['Resume', 'PermanentFailure', 'GiveUp'] END;
    IF r.state = 'waiting_for_dependencies' THEN
      v_events[1] := 'DependenciesReady';
    END IF;
    UPDATE tasker.tasks t SET error = coalesce(t.error, jsonb_build_object(
        'step_uuid', NULL, 'step_name', NULL,
        'error', jsonb_build_object('name', 'StalenessTimeout', 'code', 'STALENESS_TIMEOUT', 'retryable', false,
          'message', format('task spent %s s in state %s (threshold exceeded)', round(r.in_state), r.state))))
    WHERE t.task_uuid = r.task_uuid;
    PERFORM tasker.move_tasks(ARRAY[r.task_uuid], v_path, v_events, p_processor,
                              jsonb_build_object('reason', 'staleness_timeout', 'seconds_in_state', round(r.in_state)));
    INSERT INTO tasker.tasks_dlq (task_uuid, original_state, dlq_reason, task_snapshot, metadata)
    SELECT t.task_uuid, r.state, 'staleness_timeout',
           jsonb_build_object('task_uuid', t.task_uuid, 'namespace', t.namespace, 'task_name', tp.name,
                              'version', tp.version, 'state', r.state, 'seconds_in_state', round(r.in_state),
                              'age_seconds', round(r.age), 'thresholds', p_thresholds,
                              'steps', (SELECT jsonb_agg(jsonb_build_object('name', s.name, 'state', s.state,
                                                                            'attempts', s.attempts))
                                        FROM tasker.workflow_steps s WHERE s.task_uuid = t.task_uuid),
                              'snapshot_at', now()),
           jsonb_build_object('detection_method', 'automatic_staleness')
    FROM tasker.tasks t JOIN tasker.templates tp ON tp.template_uuid = t.template_uuid
    WHERE t.task_uuid = r.task_uuid
    ON CONFLICT (task_uuid) WHERE resolution_status = 'pending' DO NOTHING;
    PERFORM tasker.notify_task_events(ARRAY[r.task_uuid]);
    RETURN QUERY SELECT r.task_uuid, r.state, r.in_state::double precision, r.age::double precision,
                        'moved_to_error'::text;
  END LOOP;
END $function$;
