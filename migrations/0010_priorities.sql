-- Task priorities with aging (issue 5). A step message of a higher-priority task gets a head start: its
-- visibility time is back-dated by
--   head_start_ms = (priority - priority_min) * priority_head_start_ms_per_level
-- so claims, which already read `ORDER BY vt, msg_id` through queue_messages_visible_idx, take it before messages
-- of lower-priority tasks enqueued up to (p_high - p_low) * per_level ms earlier, at no extra cost per claim.
-- Aging comes with it: a message enqueued at T is never overtaken by a message enqueued after
-- T + (max - min) * per_level, so a low-priority step waits at most that long behind later high-priority work
-- (the starvation bound, see docs/architecture.md "Priorities and aging").
-- The head start is computed once, at creation, and kept on the task (priority_head_start_ms), so every message
-- sent for the task later (dependents, retries, operator retries: all through send_step_messages) carries it
-- without a new parameter on any caller. Only step messages are back-dated: result and domain-event messages,
-- lease extensions and releases set vt as before.
-- create_task takes the settings from p_options ({priority, priority_min, priority_max,
-- priority_head_start_ms_per_level}, from `orchestration.priority`), so its signature is unchanged.
-- The bodies are those of 0009_trace_context.sql except where marked "0010".

ALTER TABLE tasker.tasks ADD COLUMN IF NOT EXISTS priority_head_start_ms bigint NOT NULL DEFAULT 0;

-- 0010: a task's priority and head start from create_task's p_options. The priority is p_options.priority, else
-- p_options.priority_default, else 0; outside [priority_min, priority_max] it is refused (TK422). A caller that
-- passes no range (direct SQL) gets no range check and no head start.
CREATE OR REPLACE FUNCTION tasker.task_priority(p_options jsonb, OUT priority int, OUT head_start_ms bigint)
LANGUAGE plpgsql IMMUTABLE AS $$
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
END $$;

-- Sends one step message per step to its namespace queue and notifies each queue once. 0009: a traced task's
-- messages also carry its trace context. 0010: each message's vt is back-dated by its task's priority head start.
CREATE OR REPLACE FUNCTION tasker.send_step_messages(p_steps uuid[]) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  v_queue text;
BEGIN
  IF p_steps IS NULL OR cardinality(p_steps) = 0 THEN RETURN; END IF;
  FOR v_queue IN
    WITH ins AS (
      INSERT INTO tasker.queue_messages (queue_name, vt, message)
      SELECT tasker.worker_queue_name(t.namespace),
             now() - t.priority_head_start_ms * interval '1 millisecond', -- 0010
             CASE WHEN t.traceparent IS NULL
                  THEN jsonb_build_object('task_uuid', s.task_uuid, 'step_uuid', s.step_uuid, 'correlation_id', t.correlation_id)
                  ELSE jsonb_build_object('task_uuid', s.task_uuid, 'step_uuid', s.step_uuid, 'correlation_id', t.correlation_id)
                       || jsonb_strip_nulls(jsonb_build_object('traceparent', t.traceparent, 'tracestate', t.tracestate))
             END
      FROM tasker.workflow_steps s JOIN tasker.tasks t ON t.task_uuid = s.task_uuid
      WHERE s.step_uuid = ANY(p_steps)
      ORDER BY t.priority DESC, s.step_uuid
      RETURNING queue_name
    )
    SELECT DISTINCT queue_name FROM ins
  LOOP
    PERFORM pg_notify(tasker.queue_channel(v_queue), '');
  END LOOP;
END $$;

-- Task creation (see 0003). 0009: p_options.traceparent / p_options.tracestate are stored on the task and put in
-- the root steps' messages. 0010: the priority is checked against p_options' range, the head start is stored on
-- the task and the root steps' messages are back-dated by it.
CREATE OR REPLACE FUNCTION tasker.create_task(
  p_namespace text, p_name text, p_version text, p_context jsonb, p_options jsonb, p_processor text,
  p_with_view boolean DEFAULT false)
RETURNS TABLE (task_uuid uuid, state text, steps_enqueued int, correlation_id uuid, template_version text,
               duplicate text, view jsonb)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  v_task uuid := tasker.uuid_generate_v7();
  v_template_uuid uuid;
  v_version text;
  v_strategy text;
  v_key text := p_options->>'idempotency_key';
  v_hash text;
  v_ns text := p_namespace;
  v_total int;
  v_roots int;
  v_corr uuid := coalesce((p_options->>'correlation_id')::uuid, gen_random_uuid());
  v_existing record;
  -- 0009: the task's W3C trace context, kept only when well-formed (a malformed value is dropped, as the W3C
  -- recommendation says, rather than failing the task).
  v_traceparent text := CASE WHEN p_options->>'traceparent' ~ '^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$'
                             THEN p_options->>'traceparent' END;
  v_tracestate text := CASE WHEN v_traceparent IS NOT NULL AND char_length(p_options->>'tracestate') <= 512
                            THEN nullif(p_options->>'tracestate', '') END;
  v_trace jsonb := CASE WHEN v_traceparent IS NOT NULL
                        THEN jsonb_strip_nulls(jsonb_build_object('traceparent', v_traceparent, 'tracestate', v_tracestate))
                   END;
  -- 0010: the task's priority and the head start of its step messages (raises TK422 when out of range).
  v_priority int;
  v_head_start bigint;
BEGIN
  IF p_context IS NULL OR jsonb_typeof(p_context) <> 'object' THEN
    RAISE EXCEPTION 'task context must be a JSON object' USING ERRCODE = 'TK422';
  END IF;
  SELECT p.priority, p.head_start_ms INTO v_priority, v_head_start FROM tasker.task_priority(p_options) p; -- 0010

  SELECT r.template_uuid, r.version INTO v_template_uuid, v_version
  FROM tasker.resolve_template(p_namespace, p_name, p_version) r;
  SELECT t.identity_strategy INTO v_strategy FROM tasker.templates t WHERE t.template_uuid = v_template_uuid;

  -- jsonb's text form is canonical (keys sorted, no duplicates, no insignificant whitespace), so equal contexts
  -- hash equally whatever their key order.
  IF v_key IS NOT NULL THEN
    v_hash := 'key:' || encode(sha256(convert_to(v_template_uuid::text || ':' || v_key, 'UTF8')), 'hex');
  ELSIF v_strategy = 'caller_provided' THEN
    RAISE EXCEPTION 'template %/%@% requires an idempotency_key', p_namespace, p_name, v_version
      USING ERRCODE = 'TK422', HINT = 'Send idempotency_key with the request (identity_strategy = caller_provided).';
  ELSIF v_strategy = 'strict' THEN
    v_hash := 'ctx:' || encode(sha256(convert_to(v_template_uuid::text || ':' || p_context::text, 'UTF8')), 'hex');
  ELSE
    v_hash := 'uuid:' || v_task::text;
  END IF;

  SELECT count(*), count(*) FILTER (WHERE cardinality(ts.depends_on) = 0) INTO v_total, v_roots
  FROM tasker.template_steps ts WHERE ts.template_uuid = v_template_uuid;

  -- 0010: priority from task_priority, and priority_head_start_ms.
  INSERT INTO tasker.tasks (task_uuid, template_uuid, namespace, state, context, priority, steps_total,
                            steps_remaining, steps_in_flight, initiator, source_system, reason, tags,
                            correlation_id, parent_correlation_id, identity_hash, traceparent, tracestate,
                            priority_head_start_ms)
  VALUES (v_task, v_template_uuid, v_ns, 'steps_in_process', p_context, v_priority,
          v_total, v_total, v_roots, p_options->>'initiator', p_options->>'source_system', p_options->>'reason',
          coalesce(p_options->'tags', '[]'), v_corr, (p_options->>'parent_correlation_id')::uuid, v_hash,
          v_traceparent, v_tracestate, v_head_start)
  ON CONFLICT (identity_hash) DO NOTHING;

  IF NOT FOUND THEN
    SELECT t.task_uuid, t.state, t.correlation_id INTO v_existing FROM tasker.tasks t WHERE t.identity_hash = v_hash;
    RETURN QUERY SELECT v_existing.task_uuid, v_existing.state, 0, v_existing.correlation_id, v_version,
                        CASE WHEN v_key IS NOT NULL THEN 'existing' ELSE 'conflict' END,
                        CASE WHEN p_with_view THEN tasker.get_task_view(v_existing.task_uuid) END;
    RETURN;
  END IF;

  INSERT INTO tasker.task_transitions (task_uuid, from_state, to_state, event, sort_key, most_recent, processor)
  VALUES (v_task, NULL, 'pending', 'Create', 1, false, p_processor),
         (v_task, 'pending', 'initializing', 'Start', 2, false, p_processor),
         (v_task, 'initializing', 'enqueuing_steps', 'ReadyStepsFound', 3, false, p_processor),
         (v_task, 'enqueuing_steps', 'steps_in_process', 'StepsEnqueued', 4, true, p_processor);

  WITH steps AS (
    INSERT INTO tasker.workflow_steps (step_uuid, task_uuid, name, handler, state, pending_parents, max_attempts,
                                       retryable, retry_policy, timeout_ms, inputs)
    SELECT tasker.uuid_generate_v7(), v_task, ts.name, ts.handler,
           CASE WHEN cardinality(ts.depends_on) = 0 THEN 'enqueued' ELSE 'pending' END,
           cardinality(ts.depends_on), ts.max_attempts, ts.retryable, ts.retry_policy, ts.timeout_ms, ts.inputs
    FROM tasker.template_steps ts WHERE ts.template_uuid = v_template_uuid
    ORDER BY ts.position
    RETURNING step_uuid, name, state
  ),
  edges AS (
    INSERT INTO tasker.workflow_step_edges (from_step_uuid, to_step_uuid)
    SELECT parent.step_uuid, child.step_uuid
    FROM steps child
    JOIN tasker.template_steps ts ON ts.template_uuid = v_template_uuid AND ts.name = child.name
    CROSS JOIN LATERAL unnest(ts.depends_on) AS dep(name)
    JOIN steps parent ON parent.name = dep.name
  ),
  audit AS (
    INSERT INTO tasker.workflow_step_transitions (step_uuid, from_state, to_state, event, sort_key, most_recent, processor)
    SELECT step_uuid, NULL, 'pending', 'Create', 1, state = 'pending', p_processor FROM steps
    UNION ALL
    SELECT step_uuid, 'pending', 'enqueued', 'Enqueue', 2, true, p_processor FROM steps WHERE state = 'enqueued'
  )
  INSERT INTO tasker.queue_messages (queue_name, vt, message)
  SELECT tasker.worker_queue_name(v_ns),
         now() - v_head_start * interval '1 millisecond', -- 0010
         CASE WHEN v_trace IS NULL
              THEN jsonb_build_object('task_uuid', v_task, 'step_uuid', steps.step_uuid, 'correlation_id', v_corr)
              ELSE jsonb_build_object('task_uuid', v_task, 'step_uuid', steps.step_uuid, 'correlation_id', v_corr)
                   || v_trace
         END
  FROM steps WHERE steps.state = 'enqueued';

  PERFORM pg_notify(tasker.queue_channel(tasker.worker_queue_name(v_ns)), '');
  PERFORM pg_notify('tasker_task_events', v_task::text);
  -- The API answers with the whole task: reading it here saves the caller a round trip.
  RETURN QUERY SELECT v_task, 'steps_in_process'::text, v_roots, v_corr, v_version, 'none'::text,
                      CASE WHEN p_with_view THEN tasker.get_task_view(v_task) END;
END $$;

-- CREATE OR REPLACE resets a function's settings: re-apply 0003's planner settings to the functions redefined
-- here. (task_priority reads no table: it needs none, and a SET clause would only add per-call overhead.)
DO $$
DECLARE
  f regprocedure;
BEGIN
  FOR f IN
    SELECT p.oid::regprocedure FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
    WHERE n.nspname = 'tasker' AND p.proname IN ('send_step_messages', 'create_task')
  LOOP
    EXECUTE format('ALTER FUNCTION %s SET plan_cache_mode = force_generic_plan', f);
    EXECUTE format('ALTER FUNCTION %s SET enable_seqscan = off', f);
    EXECUTE format('ALTER FUNCTION %s SET enable_mergejoin = off', f);
    EXECUTE format('ALTER FUNCTION %s SET enable_hashjoin = off', f);
  END LOOP;
END $$;
