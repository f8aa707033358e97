-- The tasks a listing filter selects (every key of list_tasks' filter but the search), newest first, below the
-- p_before cursor, with their template's name and version and their identity hash. A SQL function the planner
-- inlines into its callers, so each call is planned with the filter's values: one state is an equality that
-- tasks_state_idx (state, task_uuid) serves in uuid order; several are a constant array (the jsonb array's text
-- with brackets, quotes and spaces dropped), so the planner sees them; created_from_uuid bounds the primary key.
CREATE OR REPLACE FUNCTION tasker.filter_tasks(p_filter jsonb, p_before uuid)
 RETURNS TABLE(task_uuid uuid, namespace text, name text, version text, state text, priority integer, tags jsonb, correlation_id uuid, steps_total integer, steps_remaining integer, created_at timestamp with time zone, completed_at timestamp with time zone, identity_hash text)
 LANGUAGE sql
 STABLE
AS $function$
  SELECT t.task_uuid, t.namespace::text, tp.name::text, tp.version::text, t.state, t.priority, t.tags,
         t.correlation_id, t.steps_total, t.steps_remaining, t.created_at, t.completed_at, t.identity_hash
  FROM tasker.tasks t JOIN tasker.templates tp ON tp.template_uuid = t.template_uuid
  WHERE (p_before IS NULL OR t.task_uuid < p_before)
    AND (p_filter->>'namespace' IS NULL OR t.namespace = p_filter->>'namespace')
    AND (p_filter->>'name' IS NULL OR tp.name = p_filter->>'name')
    AND (p_filter->>'version' IS NULL OR tp.version = p_filter->>'version')
    AND (p_filter->'states' IS NULL
         OR CASE WHEN jsonb_array_length(p_filter->'states') = 1 THEN t.state = p_filter->'states'->>0
                 ELSE t.state = ANY (string_to_array(translate((p_filter->'states')::text, '[]" ', ''), ',')) END)
    AND (p_filter->>'created_from' IS NULL OR t.created_at >= (p_filter->>'created_from')::timestamptz)
    AND (p_filter->>'created_from_uuid' IS NULL OR t.task_uuid >= (p_filter->>'created_from_uuid')::uuid)
    AND (p_filter->>'created_to' IS NULL OR t.created_at < (p_filter->>'created_to')::timestamptz)
    AND (p_filter->'tags' IS NULL OR t.tags @> (p_filter->'tags'))
$function$;
