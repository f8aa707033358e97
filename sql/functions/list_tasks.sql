-- One page of tasks, newest first (task uuids are UUIDv7, so uuid order is creation order). p_filter keys, all
-- optional: namespace, name, version, states (array), created_from, created_to, tags (array: all required).
CREATE OR REPLACE FUNCTION tasker.list_tasks(p_filter jsonb, p_before uuid, p_limit integer)
 RETURNS TABLE(task_uuid uuid, namespace text, name text, version text, state text, priority integer, tags jsonb, correlation_id uuid, steps_total integer, steps_remaining integer, created_at timestamp with time zone, completed_at timestamp with time zone)
 LANGUAGE sql
 STABLE
AS $function$
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
$function$;
