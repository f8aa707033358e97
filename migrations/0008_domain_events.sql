-- Domain events (issue 4): durable events are written by the worker's completion transaction, next to the step
-- result they describe, into one queue per namespace (`domain_events_<namespace>`). External consumers read
-- them like any queue (read / delete); tasker.template_step_events gives a worker the declarations of a
-- template version once.

CREATE OR REPLACE FUNCTION tasker.domain_events_queue_name(p_namespace text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT 'domain_events_' || p_namespace $$;

-- The steps of a template version that declare events: { step name: [declaration, ...] }.
CREATE OR REPLACE FUNCTION tasker.template_step_events(p_namespace text, p_name text, p_version text)
RETURNS jsonb
LANGUAGE sql STABLE AS $$
  SELECT coalesce(jsonb_object_agg(s->>'name', s->'publishesEvents'), '{}'::jsonb)
  FROM tasker.templates t CROSS JOIN LATERAL jsonb_array_elements(t.definition->'steps') s
  WHERE t.namespace = p_namespace AND t.name = p_name AND t.version = p_version
    AND jsonb_typeof(s->'publishesEvents') = 'array'
$$;

-- Worker completion, as in 0003_engine.sql, plus the durable domain events of the applied results, and applied
-- reported per (step, attempt): a batch can hold a stalled attempt's late outcome next to the outcome of the
-- attempt that replaced it, and only the latter is applied.
-- p_results: [{ step_uuid, msg_id, attempt, success, results, events?: [event message, ...] }].
DROP FUNCTION IF EXISTS tasker.complete_steps(jsonb, text, boolean);
CREATE OR REPLACE FUNCTION tasker.complete_steps(p_results jsonb, p_worker text, p_resolve boolean DEFAULT false)
RETURNS TABLE (step_uuid uuid, attempt int, applied boolean)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  v_ok uuid[];
  v_failed uuid[];
  -- 'step_uuid:attempt' of every applied input: one batch may hold a stale attempt and its replacement.
  v_applied text[];
  v_msgs bigint[];
  v_tasks uuid[];
  v_queue text;
  v_ids uuid[] := ARRAY(SELECT (e->>'step_uuid')::uuid FROM jsonb_array_elements(p_results) e);
BEGIN
  IF p_resolve THEN
    PERFORM 1 FROM tasker.tasks t
    WHERE t.task_uuid = ANY(ARRAY(SELECT s.task_uuid FROM tasker.workflow_steps s WHERE s.step_uuid = ANY(v_ids)))
    ORDER BY t.task_uuid
    FOR UPDATE OF t;
  END IF;

  WITH input AS (
    SELECT (e->>'step_uuid')::uuid AS step_uuid, (e->>'msg_id')::bigint AS msg_id, (e->>'attempt')::int AS attempt,
           coalesce((e->>'success')::boolean, false) AS success, e->'results' AS results
    FROM jsonb_array_elements(p_results) e
  ), upd AS (
    UPDATE tasker.workflow_steps s
    SET state = CASE WHEN i.success THEN 'enqueued_for_orchestration' ELSE 'enqueued_as_error_for_orchestration' END,
        results = i.results, updated_at = now()
    FROM input i
    -- The ANY() gives the planner an index condition; joining on the jsonb input alone can scan every step.
    WHERE s.step_uuid = ANY(v_ids) AND s.step_uuid = i.step_uuid AND s.state = 'in_progress' AND s.attempts = i.attempt
    RETURNING s.step_uuid, s.task_uuid, i.success, i.msg_id, i.attempt
  )
  SELECT array_agg(upd.step_uuid) FILTER (WHERE upd.success), array_agg(upd.step_uuid) FILTER (WHERE NOT upd.success),
         array_agg(upd.msg_id), array_agg(upd.task_uuid), array_agg(upd.step_uuid::text || ':' || upd.attempt)
  INTO v_ok, v_failed, v_msgs, v_tasks, v_applied
  FROM upd;

  IF v_msgs IS NOT NULL THEN
    IF v_ok IS NOT NULL THEN
      PERFORM tasker.log_step_transitions(v_ok, 'enqueued_for_orchestration', 'EnqueueForOrchestration', p_worker);
    END IF;
    IF v_failed IS NOT NULL THEN
      PERFORM tasker.log_step_transitions(v_failed, 'enqueued_as_error_for_orchestration',
                                          'EnqueueAsErrorForOrchestration', p_worker);
    END IF;
    DELETE FROM tasker.queue_messages m WHERE m.msg_id = ANY(v_msgs);
    IF p_resolve THEN
      PERFORM 1 FROM tasker.resolve_steps(coalesce(v_ok, '{}') || coalesce(v_failed, '{}'), p_worker);
    ELSE
      INSERT INTO tasker.queue_messages (queue_name, message)
      SELECT 'orchestration_step_results', jsonb_build_object('task_uuid', s.task_uuid, 'step_uuid', s.step_uuid)
      FROM tasker.workflow_steps s WHERE s.step_uuid = ANY(coalesce(v_ok, '{}') || coalesce(v_failed, '{}'));
      PERFORM pg_notify(tasker.queue_channel('orchestration_step_results'), '');
    END IF;
    PERFORM tasker.notify_task_events(v_tasks);

    -- Durable domain events of the applied results, in this same transaction: an event exists exactly when its
    -- step's result was recorded and handed to orchestration. Refused results (a lost lease) publish nothing.
    IF p_results @? '$[*].events' THEN
      FOR v_queue IN
        WITH ins AS (
          INSERT INTO tasker.queue_messages (queue_name, message)
          SELECT tasker.domain_events_queue_name(ev->>'namespace'), ev
          FROM jsonb_array_elements(p_results) e CROSS JOIN LATERAL jsonb_array_elements(e->'events') ev
          WHERE jsonb_typeof(e->'events') = 'array'
            AND (e->>'step_uuid') || ':' || (e->>'attempt') = ANY(v_applied)
          RETURNING queue_name
        )
        SELECT DISTINCT ins.queue_name FROM ins
      LOOP
        PERFORM pg_notify(tasker.queue_channel(v_queue), '');
      END LOOP;
    END IF;
  END IF;

  RETURN QUERY
  SELECT (e->>'step_uuid')::uuid, (e->>'attempt')::int,
         coalesce((e->>'step_uuid') || ':' || (e->>'attempt') = ANY(v_applied), false)
  FROM jsonb_array_elements(p_results) e;
END $$;

DO $$
DECLARE
  f regprocedure;
BEGIN
  FOR f IN
    SELECT p.oid::regprocedure FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
    WHERE n.nspname = 'tasker' AND p.proname = 'complete_steps'
  LOOP
    EXECUTE format('ALTER FUNCTION %s SET plan_cache_mode = force_generic_plan', f);
    EXECUTE format('ALTER FUNCTION %s SET enable_seqscan = off', f);
    EXECUTE format('ALTER FUNCTION %s SET enable_mergejoin = off', f);
    EXECUTE format('ALTER FUNCTION %s SET enable_hashjoin = off', f);
  END LOOP;
END $$;
