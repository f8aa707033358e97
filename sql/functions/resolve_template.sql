-- Resolves namespace/name@version to a template; without a version, the highest semantic version (a release
-- ranks above its pre-releases). Raises TK404 when nothing matches.
CREATE OR REPLACE FUNCTION tasker.resolve_template(p_namespace text, p_name text, p_version text)
 RETURNS TABLE(template_uuid uuid, version text)
 LANGUAGE plpgsql
 STABLE
AS $function$
#variable_conflict use_column
BEGIN
  RETURN QUERY
    SELECT t.template_uuid, t.version::text FROM tasker.templates t
    WHERE t.namespace = p_namespace AND t.name = p_name AND (p_version IS NULL OR t.version = p_version)
    ORDER BY string_to_array(regexp_replace(t.version, '[-+].*$', ''), '.')::int[] DESC,
             (t.version !~ '-') DESC, t.version DESC
    LIMIT 1;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'template % is not registered', p_namespace || '/' || p_name || coalesce('@' || p_version, '')
      USING ERRCODE = 'TK404', HINT = 'Register it first (tasker worker --templates, or registerTemplate()).';
  END IF;
END $function$;
