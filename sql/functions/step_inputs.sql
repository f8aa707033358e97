-- What a step runs with, for the API's step detail: its inputs (template inputs, and `__batch` for a batch
-- instance), its last checkpoint, its stored results, and the results of its ancestors as a claim would hand them
-- to its handler now (skipped ancestors left out; a tolerated failure as { __failed: true, error }). NULL when
-- the step is not one of the task's.
CREATE OR REPLACE FUNCTION tasker.step_inputs(p_task uuid, p_step uuid)
 RETURNS TABLE(inputs jsonb, checkpoint jsonb, results jsonb, dependency_results jsonb)
 LANGUAGE sql
 STABLE
AS $function$
  WITH RECURSIVE ancestors (step_uuid) AS (
    SELECT e.from_step_uuid FROM tasker.workflow_step_edges e WHERE e.to_step_uuid = p_step
    UNION
    SELECT e.from_step_uuid FROM ancestors a JOIN tasker.workflow_step_edges e ON e.to_step_uuid = a.step_uuid
  )
  SELECT s.inputs, s.checkpoint, s.results,
         (SELECT coalesce(jsonb_object_agg(p.name, CASE WHEN p.state = 'error'
                                                        THEN jsonb_build_object('__failed', true, 'error', p.results->'error')
                                                        ELSE p.results->'result' END), '{}'::jsonb)
          FROM ancestors a JOIN tasker.workflow_steps p ON p.step_uuid = a.step_uuid
          WHERE p.state <> 'skipped')
  FROM tasker.workflow_steps s
  WHERE s.step_uuid = p_step AND s.task_uuid = p_task
$function$;
