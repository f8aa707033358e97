-- The latest runs of one template version, newest first, each with every step's name, uuid, type, state and
-- attempts (the dashboard's runs-by-steps grid): one statement, the tasks through tasks_template_idx and each
-- run's steps through their (task_uuid, name) key.
CREATE OR REPLACE FUNCTION tasker.template_runs(p_template uuid, p_limit integer)
 RETURNS TABLE(task_uuid uuid, state text, created_at timestamp with time zone, completed_at timestamp with time zone, steps jsonb)
 LANGUAGE sql
 STABLE
AS $function$
  SELECT t.task_uuid, t.state, t.created_at, t.completed_at,
         (SELECT coalesce(jsonb_agg(jsonb_build_object('name', s.name, 'step_uuid', s.step_uuid, 'type', s.step_type,
                                                       'state', s.state, 'attempts', s.attempts) ORDER BY s.name), '[]')
          FROM tasker.workflow_steps s WHERE s.task_uuid = t.task_uuid)
  FROM tasker.tasks t
  WHERE t.template_uuid = p_template
  ORDER BY t.created_at DESC, t.task_uuid DESC
  LIMIT p_limit
$function$;
