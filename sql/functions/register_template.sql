-- Template registration: idempotent for identical content (same sha256), refused (TK409) for different content
-- under one version. Stores each step's type and batch settings.
CREATE OR REPLACE FUNCTION tasker.register_template(p_definition jsonb, p_sha256 text)
 RETURNS TABLE(template_uuid uuid, created boolean)
 LANGUAGE plpgsql
AS $function$
#variable_conflict use_column
DECLARE
  v_ns_uuid uuid;
  v_ns text := p_definition->>'namespace';
  v_existing record;
  v_uuid uuid;
BEGIN
  INSERT INTO tasker.namespaces (name) VALUES (v_ns) ON CONFLICT (name) DO NOTHING;
  SELECT namespace_uuid INTO v_ns_uuid FROM tasker.namespaces WHERE name = v_ns;
  PERFORM tasker.create_queue(tasker.worker_queue_name(v_ns));

  SELECT t.template_uuid, t.definition_sha256 INTO v_existing FROM tasker.templates t
  WHERE t.namespace = v_ns AND t.name = p_definition->>'name' AND t.version = p_definition->>'version';
  IF FOUND THEN
    IF v_existing.definition_sha256 <> p_sha256 THEN
      RAISE EXCEPTION 'template %/%@% is already registered with different content',
        v_ns, p_definition->>'name', p_definition->>'version'
        USING ERRCODE = 'TK409', HINT = 'A version is immutable once registered: bump the version to change it.';
    END IF;
    RETURN QUERY SELECT v_existing.template_uuid, false;
    RETURN;
  END IF;

  INSERT INTO tasker.templates (namespace_uuid, namespace, name, version, description, definition, definition_sha256,
                                identity_strategy)
  VALUES (v_ns_uuid, v_ns, p_definition->>'name', p_definition->>'version', p_definition->>'description',
          p_definition, p_sha256, coalesce(p_definition->>'identityStrategy', 'always_unique'))
  ON CONFLICT (namespace, name, version) DO NOTHING
  RETURNING templates.template_uuid INTO v_uuid;

  IF v_uuid IS NULL THEN
    -- Lost a registration race: the winner's content must match ours.
    RETURN QUERY SELECT r.template_uuid, false FROM tasker.register_template(p_definition, p_sha256) r;
    RETURN;
  END IF;

  -- step_type and batch_config.
  INSERT INTO tasker.template_steps (template_uuid, position, name, handler, depends_on, retryable, max_attempts,
                                     retry_policy, timeout_ms, inputs, step_type, batch_config)
  SELECT v_uuid, s.ord - 1, s.step->>'name', s.step->>'handler',
         ARRAY(SELECT jsonb_array_elements_text(coalesce(s.step->'dependsOn', '[]'))),
         (s.step->'retry'->>'retryable')::boolean, (s.step->'retry'->>'maxAttempts')::int,
         s.step->'retry', (s.step->>'timeoutMs')::int,
         CASE WHEN s.step->'inputs' IS NULL OR s.step->'inputs' = '{}'::jsonb THEN NULL ELSE s.step->'inputs' END,
         coalesce(s.step->>'type', 'standard'), s.step->'batch'
  FROM jsonb_array_elements(p_definition->'steps') WITH ORDINALITY AS s(step, ord);

  RETURN QUERY SELECT v_uuid, true;
END $function$;
