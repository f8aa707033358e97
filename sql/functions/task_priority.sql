-- A task's priority and head start from create_task's p_options. The priority is p_options.priority, else
-- p_options.priority_default, else 0; outside [priority_min, priority_max] it is refused (TK422). A caller that
-- passes no range (direct SQL) gets no range check and no head start.
CREATE OR REPLACE FUNCTION tasker.task_priority(p_options jsonb, OUT priority integer, OUT head_start_ms bigint)
 RETURNS record
 LANGUAGE plpgsql
 IMMUTABLE
AS $function$
DECLARE
  v_min int := (p_options->>'priority_min')::int;
  v_max int := (p_options->>'priority_max')::int;
  v_per_level bigint := greatest(coalesce((p_options->>'priority_head_start_ms_per_level')::bigint, 0), 0);
BEGIN
  priority := coalesce((p_options->>'priority')::int, (p_options->>'priority_default')::int, 0);
  IF priority < v_min OR priority > v_max THEN
    RAISE EXCEPTION 'priority % is outside the allowed range % to %', priority, v_min, v_max
      USING ERRCODE = 'TK422', HINT = 'The range is orchestration.priority.min and .max.';
  END IF;
  head_start_ms := CASE WHEN v_min IS NULL THEN 0 ELSE (priority - v_min)::bigint * v_per_level END;
END $function$;
