-- One page of tasks, newest first (task uuids are UUIDv7, so uuid order is creation order). p_filter keys, all
-- optional: namespace, name, version, states (array), created_from, created_to, tags (array: all required) —
-- applied by filter_tasks — and search. The caller (src/orchestration/task-filter.ts) adds what lets indexes
-- answer: created_from_uuid (the smallest UUIDv7 of created_from), and for a search the uuid range of a hex
-- prefix (search_uuid_from, search_uuid_to) and a full uuid to match as a correlation id (search_uuid). A search
-- also matches the identity hash an idempotency key gives under each template (key:sha256(template:key)), or a
-- stored identity hash as given. Each way a search can match is its own branch, served by its own index (the
-- primary key's range, tasks_correlation_idx, tasks_identity_hash_key) and cut to one page before the branches
-- are merged: an OR of them would make the planner walk the whole primary key.
CREATE OR REPLACE FUNCTION tasker.list_tasks(p_filter jsonb, p_before uuid, p_limit integer)
 RETURNS TABLE(task_uuid uuid, namespace text, name text, version text, state text, priority integer, tags jsonb, correlation_id uuid, steps_total integer, steps_remaining integer, created_at timestamp with time zone, completed_at timestamp with time zone)
 LANGUAGE sql
 STABLE
AS $function$
  SELECT u.task_uuid, u.namespace, u.name, u.version, u.state, u.priority, u.tags, u.correlation_id, u.steps_total,
         u.steps_remaining, u.created_at, u.completed_at
  FROM (
    (SELECT f.* FROM tasker.filter_tasks(p_filter, p_before) f
     WHERE p_filter->>'search' IS NULL
     ORDER BY f.task_uuid DESC LIMIT p_limit)
    UNION
    (SELECT f.* FROM tasker.filter_tasks(p_filter, p_before) f
     WHERE p_filter->>'search_uuid_from' IS NOT NULL
       AND f.task_uuid BETWEEN (p_filter->>'search_uuid_from')::uuid AND (p_filter->>'search_uuid_to')::uuid
     ORDER BY f.task_uuid DESC LIMIT p_limit)
    UNION
    (SELECT f.* FROM tasker.filter_tasks(p_filter, p_before) f
     WHERE p_filter->>'search_uuid' IS NOT NULL AND f.correlation_id = (p_filter->>'search_uuid')::uuid
     ORDER BY f.task_uuid DESC LIMIT p_limit)
    UNION
    (SELECT f.* FROM tasker.filter_tasks(p_filter, p_before) f
     WHERE p_filter->>'search' IS NOT NULL
       AND f.identity_hash = ANY (ARRAY(
             SELECT 'key:' || encode(sha256(convert_to(k.template_uuid::text || ':' || (p_filter->>'search'), 'UTF8')), 'hex')
             FROM tasker.templates k
             WHERE (p_filter->>'namespace' IS NULL OR k.namespace = p_filter->>'namespace')
               AND (p_filter->>'name' IS NULL OR k.name = p_filter->>'name')
             UNION ALL SELECT p_filter->>'search'))
     ORDER BY f.task_uuid DESC LIMIT p_limit)
  ) u
  ORDER BY u.task_uuid DESC
  LIMIT p_limit
$function$;
