-- Creates one task per element of p_requests, in order, in this one transaction: each element is
-- { namespace, name, version, context, options } as tasker.create_task takes them, and each gets create_task's
-- identity rules on its own (an idempotency key returns the earlier task, a strict duplicate is reported as a
-- conflict row, not raised). An error (an unknown template, an invalid priority) rolls back the whole call.
CREATE OR REPLACE FUNCTION tasker.create_tasks(p_requests jsonb, p_processor text)
 RETURNS TABLE(ord integer, task_uuid uuid, state text, steps_enqueued integer, correlation_id uuid, template_version text, duplicate text)
 LANGUAGE plpgsql
AS $function$
#variable_conflict use_column
DECLARE
  v_req jsonb;
  v_ord bigint;
BEGIN
  IF p_requests IS NULL OR jsonb_typeof(p_requests) <> 'array' THEN
    RAISE EXCEPTION 'create_tasks expects a JSON array of requests' USING ERRCODE = 'TK422';
  END IF;
  FOR v_req, v_ord IN SELECT e, o FROM jsonb_array_elements(p_requests) WITH ORDINALITY AS x(e, o) LOOP
    RETURN QUERY
    SELECT v_ord::int, c.task_uuid, c.state, c.steps_enqueued, c.correlation_id, c.template_version, c.duplicate
    FROM tasker.create_task(v_req->>'namespace', v_req->>'name', v_req->>'version', v_req->'context',
                            coalesce(v_req->'options', '{}'::jsonb), p_processor, false) c;
  END LOOP;
END $function$;
