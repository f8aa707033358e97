-- The task view (task, steps with readiness, results and errors), which create_task returns with the task when
-- asked to. Steps are ordered by a lookup of their template position, not a join with template_steps: under
-- create_task's planner settings that join was a nested loop over every template step for every step.
-- PL/pgSQL, so that its plan is made once per connection: a SQL function that PostgreSQL cannot inline (this
-- one reads tables) is parsed and planned again on every call.
CREATE OR REPLACE FUNCTION tasker.get_task_view(p_task uuid)
 RETURNS jsonb
 LANGUAGE plpgsql
 STABLE
AS $function$
BEGIN
  RETURN (SELECT jsonb_build_object(
    'task_uuid', t.task_uuid, 'namespace', t.namespace, 'name', tp.name, 'version', tp.version, 'state', t.state,
    'context', t.context, 'priority', t.priority, 'tags', t.tags, 'correlation_id', t.correlation_id,
    'parent_correlation_id', t.parent_correlation_id, 'initiator', t.initiator, 'source_system', t.source_system,
    'reason', t.reason, 'steps_total', t.steps_total, 'steps_remaining', t.steps_remaining, 'error', t.error,
    'created_at', t.created_at, 'updated_at', t.updated_at, 'completed_at', t.completed_at,
    'steps', coalesce((
      SELECT jsonb_agg(jsonb_build_object(
          'step_uuid', s.step_uuid, 'name', s.name, 'handler', s.handler, 'state', s.state, 'type', s.step_type,
          'readiness', tasker.step_readiness(s.state, s.pending_parents),
          'attempts', s.attempts, 'max_attempts', s.max_attempts, 'results', s.results,
          'next_retry_at', s.next_retry_at, 'processed_at', s.processed_at,
          'depends_on', coalesce((SELECT jsonb_agg(p.name ORDER BY p.name)
                                  FROM tasker.workflow_step_edges e
                                  JOIN tasker.workflow_steps p ON p.step_uuid = e.from_step_uuid
                                  WHERE e.to_step_uuid = s.step_uuid), '[]'::jsonb))
        -- each step's template position by primary-key lookup (batch instances have none).
        ORDER BY (SELECT ts.position FROM tasker.template_steps ts
                  WHERE ts.template_uuid = t.template_uuid AND ts.name = s.name) NULLS LAST, s.name)
      FROM tasker.workflow_steps s
      WHERE s.task_uuid = t.task_uuid), '[]'::jsonb))
  FROM tasker.tasks t JOIN tasker.templates tp ON tp.template_uuid = t.template_uuid
  WHERE t.task_uuid = p_task);
END $function$;
