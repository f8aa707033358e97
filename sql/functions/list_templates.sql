CREATE OR REPLACE FUNCTION tasker.list_templates()
 RETURNS TABLE(template_uuid uuid, namespace text, name text, version text, description text, identity_strategy text, step_count integer, created_at timestamp with time zone)
 LANGUAGE sql
 STABLE
AS $function$
  SELECT t.template_uuid, t.namespace::text, t.name::text, t.version::text, t.description, t.identity_strategy,
         (SELECT count(*)::int FROM tasker.template_steps s WHERE s.template_uuid = t.template_uuid), t.created_at
  FROM tasker.templates t
  ORDER BY t.namespace, t.name, string_to_array(regexp_replace(t.version, '[-+].*$', ''), '.')::int[] DESC
$function$;
