-- The steps of a template version that declare events: { step name: [declaration, ...] }.
-- PL/pgSQL so that its plan is made once per connection: PostgreSQL cannot inline a SQL function that reads
-- tables, and would parse and plan it again on every call.
CREATE OR REPLACE FUNCTION tasker.template_step_events(p_namespace text, p_name text, p_version text)
 RETURNS jsonb
 LANGUAGE plpgsql
 STABLE
AS $function$
BEGIN
  RETURN (
  SELECT coalesce(jsonb_object_agg(s->>'name', s->'publishesEvents'), '{}'::jsonb)
  FROM tasker.templates t CROSS JOIN LATERAL jsonb_array_elements(t.definition->'steps') s
  WHERE t.namespace = p_namespace AND t.name = p_name AND t.version = p_version
    AND jsonb_typeof(s->'publishesEvents') = 'array');
END $function$;
