-- Moves tasks to a new state along a path of allowed transitions, recording every hop; a task that reaches a
-- finished state is announced on `tasker_task_finished` in the same transaction (notify_task_finished).
CREATE OR REPLACE FUNCTION tasker.move_tasks(p_tasks uuid[], p_path text[], p_events text[], p_processor text, p_metadata jsonb DEFAULT NULL::jsonb)
 RETURNS void
 LANGUAGE plpgsql
 SET plan_cache_mode TO 'force_generic_plan'
 SET enable_seqscan TO 'off'
 SET enable_mergejoin TO 'off'
 SET enable_hashjoin TO 'off'
 SET jit TO 'off'
AS $function$
DECLARE
  v_to text := p_path[cardinality(p_path)];
BEGIN
  IF p_tasks IS NULL OR cardinality(p_tasks) = 0 THEN RETURN; END IF;
  UPDATE tasker.tasks SET state = v_to, updated_at = now(),
         completed_at = CASE WHEN v_to IN ('complete', 'error', 'cancelled', 'resolved_manually')
                             THEN now() ELSE completed_at END
  WHERE task_uuid = ANY(p_tasks);
  PERFORM tasker.log_task_transitions(p_tasks, p_path, p_events, p_processor, p_metadata);
  IF v_to IN ('complete', 'error', 'cancelled', 'resolved_manually') THEN
    PERFORM tasker.notify_task_finished(p_tasks, v_to);
  END IF;
END $function$;
