-- A worker hands back claimed steps whose handler did not run to an outcome: steps it claimed but never
-- started (shutdown, a task cancelled before start, a prefetched step it could not start in time) and
-- handlers aborted by its own shutdown. Such an attempt was the worker's doing, not the handler's, so it is
-- not counted: the step goes back to `enqueued` with its attempt count restored, its message becomes visible
-- at once and the queue is notified, so another worker takes it without waiting for a visibility timeout
-- (and without the LeaseExpired path, which spends an attempt or fails a step that has none left).
--
-- p_steps: [{ step_uuid, msg_id, attempt }]. Per step, by what the database says now:
-- * still in_progress at that attempt: handed back as above (audited as `Release`);
-- * cancelled at that attempt (the task was cancelled; the handler never ran): its attempt is given back and
--   its message deleted;
-- * anything else (finished, or claimed again by a later attempt after our lease lapsed): left alone; a message
--   of a step that can no longer run is deleted.
-- Returns the steps handed back to the queue.
CREATE OR REPLACE FUNCTION tasker.release_steps(p_steps jsonb, p_worker text, p_reason text)
 RETURNS TABLE(step_uuid uuid)
 LANGUAGE plpgsql
 SET plan_cache_mode TO 'force_generic_plan'
 SET enable_seqscan TO 'off'
 SET enable_mergejoin TO 'off'
 SET enable_hashjoin TO 'off'
 SET jit TO 'off'
AS $function$
#variable_conflict use_column
DECLARE
  v_released uuid[];
  v_msgs bigint[];
  v_tasks uuid[];
  v_queue text;
BEGIN
  IF p_steps IS NULL OR jsonb_array_length(p_steps) = 0 THEN RETURN; END IF;

  WITH given AS (
    SELECT (e->>'step_uuid')::uuid AS step_uuid, (e->>'msg_id')::bigint AS msg_id, (e->>'attempt')::int AS attempt
    FROM jsonb_array_elements(p_steps) e
  ), moved AS (
    UPDATE tasker.workflow_steps s
    SET state = 'enqueued', attempts = s.attempts - 1, updated_at = now()
    FROM given g
    WHERE s.step_uuid = g.step_uuid AND s.state = 'in_progress' AND s.attempts = g.attempt
    RETURNING s.step_uuid, s.task_uuid, g.msg_id
  )
  SELECT array_agg(moved.step_uuid), array_agg(moved.msg_id), array_agg(DISTINCT moved.task_uuid)
  INTO v_released, v_msgs, v_tasks FROM moved;

  IF v_released IS NOT NULL THEN
    PERFORM tasker.log_step_transitions(v_released, 'enqueued', 'Release', p_worker,
                                        jsonb_build_object('reason', p_reason, 'attempt_counted', false));
    UPDATE tasker.queue_messages m SET vt = now() WHERE m.msg_id = ANY(v_msgs);
    FOR v_queue IN SELECT DISTINCT m.queue_name FROM tasker.queue_messages m WHERE m.msg_id = ANY(v_msgs) LOOP
      PERFORM pg_notify(tasker.queue_channel(v_queue), '');
    END LOOP;
    PERFORM tasker.notify_task_events(v_tasks);
  END IF;

  -- A step cancelled while this worker held it unstarted: the attempt it was claimed with never ran.
  UPDATE tasker.workflow_steps s SET attempts = s.attempts - 1, updated_at = now()
  FROM (SELECT (e->>'step_uuid')::uuid AS step_uuid, (e->>'attempt')::int AS attempt
        FROM jsonb_array_elements(p_steps) e) g
  WHERE s.step_uuid = g.step_uuid AND s.state = 'cancelled' AND s.attempts = g.attempt AND s.attempts > 0;

  -- Messages of steps that can no longer run are of no use to anyone.
  DELETE FROM tasker.queue_messages m
  USING (SELECT (e->>'step_uuid')::uuid AS step_uuid, (e->>'msg_id')::bigint AS msg_id
         FROM jsonb_array_elements(p_steps) e) g
  WHERE m.msg_id = g.msg_id
    AND NOT EXISTS (SELECT 1 FROM tasker.workflow_steps s
                    WHERE s.step_uuid = g.step_uuid AND s.state IN ('enqueued', 'in_progress'));

  RETURN QUERY SELECT unnest(coalesce(v_released, '{}'::uuid[]));
END $function$;
