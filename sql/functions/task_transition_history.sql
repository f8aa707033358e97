-- The audit trail of a task: its own transitions and its steps' (or one step's), oldest first.
CREATE OR REPLACE FUNCTION tasker.task_transition_history(p_task uuid, p_step uuid DEFAULT NULL::uuid)
 RETURNS TABLE(entity text, step_uuid uuid, step_name text, from_state text, to_state text, event text, sort_key integer, metadata jsonb, processor text, created_at timestamp with time zone)
 LANGUAGE sql
 STABLE
AS $function$
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
$function$;
