-- The outcome of each given task that exists: its state and, once finished, the result of every step that
-- completed (or was resolved by an operator) by step name, the failed steps with their last error, and the
-- task's own error (set when the engine failed it, e.g. stuck). Skipped and cancelled steps are absent.
CREATE OR REPLACE FUNCTION tasker.task_outcomes(p_tasks uuid[])
 RETURNS TABLE(task_uuid uuid, state text, results jsonb, failed_steps jsonb, error jsonb)
 LANGUAGE sql
 STABLE
AS $function$
  SELECT t.task_uuid, t.state,
         CASE WHEN t.state IN ('complete', 'error', 'cancelled', 'resolved_manually') THEN coalesce((
           SELECT jsonb_object_agg(s.name, CASE WHEN s.results->>'success' = 'true'
                                                THEN coalesce(s.results->'result', 'null'::jsonb)
                                                ELSE 'null'::jsonb END)
           FROM tasker.workflow_steps s
           WHERE s.task_uuid = t.task_uuid AND s.state IN ('complete', 'resolved_manually')), '{}'::jsonb)
         END,
         CASE WHEN t.state IN ('error', 'cancelled') THEN coalesce((
           SELECT jsonb_agg(jsonb_build_object('step_uuid', s.step_uuid, 'name', s.name, 'attempts', s.attempts,
                                               'error', s.results->'error') ORDER BY s.name)
           FROM tasker.workflow_steps s
           WHERE s.task_uuid = t.task_uuid AND s.state = 'error'), '[]'::jsonb)
         END,
         t.error
  FROM tasker.tasks t
  WHERE t.task_uuid = ANY(p_tasks)
$function$;
