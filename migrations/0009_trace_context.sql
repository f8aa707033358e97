-- Trace context (OpenTelemetry, W3C Trace Context) on tasks and in their step messages, so one task is one
-- trace across processes: the task keeps the `traceparent` (and `tracestate`) of the span that created it,
-- every step message sent for it carries them, and claim_steps hands them to the worker, which parents its
-- `step.execute` span on them. The context travels through the database and the queue only.
-- With tracing off the columns stay NULL and the messages are exactly those of 0003 (no extra keys).
-- create_task takes the context from p_options ({traceparent, tracestate}), so its signature is unchanged.
-- The bodies are those of 0003_engine.sql except where marked "0009".

ALTER TABLE tasker.tasks ADD COLUMN IF NOT EXISTS traceparent text NULL;
ALTER TABLE tasker.tasks ADD COLUMN IF NOT EXISTS tracestate text NULL;

-- Sends one step message per step to its namespace queue and notifies each queue once. 0009: a traced task's
-- messages also carry its trace context.
CREATE OR REPLACE FUNCTION tasker.send_step_messages(p_steps uuid[]) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  v_queue text;
BEGIN
  IF p_steps IS NULL OR cardinality(p_steps) = 0 THEN RETURN; END IF;
  FOR v_queue IN
    WITH ins AS (
      INSERT INTO tasker.queue_messages (queue_name, message)
      SELECT tasker.worker_queue_name(t.namespace),
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
-- the root steps' messages.
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
BEGIN
  IF p_context IS NULL OR jsonb_typeof(p_context) <> 'object' THEN
    RAISE EXCEPTION 'task context must be a JSON object' USING ERRCODE = 'TK422';
  END IF;

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

  INSERT INTO tasker.tasks (task_uuid, template_uuid, namespace, state, context, priority, steps_total,
                            steps_remaining, steps_in_flight, initiator, source_system, reason, tags,
                            correlation_id, parent_correlation_id, identity_hash, traceparent, tracestate)
  VALUES (v_task, v_template_uuid, v_ns, 'steps_in_process', p_context, coalesce((p_options->>'priority')::int, 0),
          v_total, v_total, v_roots, p_options->>'initiator', p_options->>'source_system', p_options->>'reason',
          coalesce(p_options->'tags', '[]'), v_corr, (p_options->>'parent_correlation_id')::uuid, v_hash,
          v_traceparent, v_tracestate)
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
  INSERT INTO tasker.queue_messages (queue_name, message)
  SELECT tasker.worker_queue_name(v_ns),
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

-- Worker claim (see 0003). 0009: also returns each message's trace context (NULL when the task is not traced).
-- The result type changes, so the old function is dropped first.
DROP FUNCTION IF EXISTS tasker.claim_steps(text, int, double precision, text);

CREATE FUNCTION tasker.claim_steps(p_queue text, p_limit int, p_vt_seconds double precision, p_worker text)
RETURNS TABLE (msg_id bigint, step_uuid uuid, task_uuid uuid, step_name text, handler text, attempt int,
               max_attempts int, retryable boolean, retry_policy jsonb, timeout_ms int, inputs jsonb,
               context jsonb, namespace text, template_name text, template_version text, correlation_id uuid,
               dependency_results jsonb, traceparent text, tracestate text)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  v_msgs bigint[];
  v_steps uuid[];
  v_claimed uuid[];
  v_reclaimed uuid[];
  v_lost uuid[];
  v_keep uuid[];
  v_tasks uuid[];
  v_traceparents text[];
  v_tracestates text[];
BEGIN
  WITH visible AS (
    SELECT m.msg_id FROM tasker.queue_messages m
    WHERE m.queue_name = p_queue AND m.vt <= now()
    ORDER BY m.vt, m.msg_id
    LIMIT p_limit
    FOR UPDATE SKIP LOCKED
  ), taken AS (
    UPDATE tasker.queue_messages m
    SET vt = clock_timestamp() + make_interval(secs => p_vt_seconds), read_ct = m.read_ct + 1
    FROM visible WHERE m.msg_id = visible.msg_id
    RETURNING m.msg_id, (m.message->>'step_uuid')::uuid AS step_uuid, (m.message->>'task_uuid')::uuid AS task_uuid,
              m.message->>'traceparent' AS traceparent, m.message->>'tracestate' AS tracestate
  )
  SELECT array_agg(taken.msg_id), array_agg(taken.step_uuid), array_agg(taken.task_uuid),
         array_agg(taken.traceparent), array_agg(taken.tracestate)
  INTO v_msgs, v_steps, v_tasks, v_traceparents, v_tracestates FROM taken;
  IF v_msgs IS NULL THEN RETURN; END IF;

  -- Step rows locked elsewhere (a completing worker) are skipped; their message comes back after the timeout.
  WITH lockable AS (
    SELECT s.step_uuid, s.state, s.attempts, s.max_attempts, s.retryable FROM tasker.workflow_steps s
    WHERE s.step_uuid = ANY(v_steps) AND s.state IN ('enqueued', 'in_progress')
    FOR UPDATE SKIP LOCKED
  )
  SELECT array_agg(l.step_uuid) FILTER (WHERE l.state = 'enqueued'),
         array_agg(l.step_uuid) FILTER (WHERE l.state = 'in_progress' AND l.retryable AND l.attempts < l.max_attempts),
         array_agg(l.step_uuid) FILTER (WHERE l.state = 'in_progress' AND NOT (l.retryable AND l.attempts < l.max_attempts))
  INTO v_claimed, v_reclaimed, v_lost
  FROM lockable l;

  v_claimed := coalesce(v_claimed, '{}');
  v_reclaimed := coalesce(v_reclaimed, '{}');
  v_lost := coalesce(v_lost, '{}');
  v_keep := v_claimed || v_reclaimed;

  UPDATE tasker.workflow_steps s
  SET state = 'in_progress', attempts = s.attempts + 1, last_attempted_at = now(), updated_at = now()
  WHERE s.step_uuid = ANY(v_keep);
  IF cardinality(v_reclaimed) > 0 THEN
    PERFORM tasker.log_step_transitions(v_reclaimed, 'enqueued', 'LeaseExpired', p_worker,
                                        jsonb_build_object('reason', 'visibility timeout expired'));
  END IF;
  IF cardinality(v_keep) > 0 THEN
    PERFORM tasker.log_step_transitions(v_keep, 'in_progress', 'Start', p_worker);
  END IF;

  IF cardinality(v_lost) > 0 THEN
    UPDATE tasker.workflow_steps s
    SET state = 'enqueued_as_error_for_orchestration', updated_at = now(),
        results = jsonb_build_object('success', false, 'result', NULL,
          'error', jsonb_build_object('name', 'LeaseExpired', 'code', 'LEASE_EXPIRED', 'retryable', false,
            'message', 'the worker running this step stopped before finishing it and no attempts are left'),
          'metadata', jsonb_build_object('attempt', s.attempts, 'detected_by', p_worker))
    WHERE s.step_uuid = ANY(v_lost);
    PERFORM tasker.log_step_transitions(v_lost, 'enqueued_as_error_for_orchestration', 'EnqueueAsErrorForOrchestration',
                                        p_worker, jsonb_build_object('reason', 'visibility timeout expired'));
    INSERT INTO tasker.queue_messages (queue_name, message)
    SELECT 'orchestration_step_results', jsonb_build_object('task_uuid', s.task_uuid, 'step_uuid', s.step_uuid)
    FROM tasker.workflow_steps s WHERE s.step_uuid = ANY(v_lost);
    PERFORM pg_notify(tasker.queue_channel('orchestration_step_results'), '');
  END IF;

  -- Delete messages of lost steps and of steps that are no longer claimable (duplicates). Messages of steps
  -- locked by a completing worker are left alone: they reappear after the timeout and are handled then.
  IF cardinality(v_msgs) > cardinality(v_keep) THEN
    DELETE FROM tasker.queue_messages m
    USING unnest(v_msgs, v_steps) AS t(msg_id, step_uuid)
    WHERE m.msg_id = ANY(v_msgs) AND m.msg_id = t.msg_id
      AND (t.step_uuid = ANY(v_lost)
           OR NOT EXISTS (SELECT 1 FROM tasker.workflow_steps s
                          WHERE s.step_uuid = t.step_uuid AND s.state IN ('enqueued', 'in_progress')));
  END IF;

  IF cardinality(v_keep) + cardinality(v_lost) > 0 THEN
    PERFORM tasker.notify_task_events(v_tasks);
  END IF;
  IF cardinality(v_keep) = 0 THEN RETURN; END IF;

  RETURN QUERY
  WITH RECURSIVE ancestors (step_uuid, ancestor) AS (
    SELECT e.to_step_uuid, e.from_step_uuid FROM tasker.workflow_step_edges e WHERE e.to_step_uuid = ANY(v_keep)
    UNION
    SELECT a.step_uuid, e.from_step_uuid FROM ancestors a
    JOIN tasker.workflow_step_edges e ON e.to_step_uuid = a.ancestor
  ), deps AS (
    SELECT a.step_uuid, jsonb_object_agg(p.name, p.results->'result') AS results
    FROM ancestors a JOIN tasker.workflow_steps p ON p.step_uuid = a.ancestor
    GROUP BY a.step_uuid
  )
  SELECT m.msg_id, s.step_uuid, s.task_uuid, s.name::text, s.handler, s.attempts, s.max_attempts, s.retryable,
         s.retry_policy, s.timeout_ms, s.inputs, t.context, t.namespace::text, tp.name::text, tp.version::text,
         t.correlation_id, coalesce(d.results, '{}'::jsonb), m.traceparent, m.tracestate
  FROM unnest(v_msgs, v_steps, v_traceparents, v_tracestates) AS m(msg_id, step_uuid, traceparent, tracestate)
  JOIN tasker.workflow_steps s ON s.step_uuid = m.step_uuid
  JOIN tasker.tasks t ON t.task_uuid = s.task_uuid
  JOIN tasker.templates tp ON tp.template_uuid = t.template_uuid
  LEFT JOIN deps d ON d.step_uuid = s.step_uuid
  WHERE s.step_uuid = ANY(v_keep);
END $$;

-- CREATE OR REPLACE resets a function's settings: re-apply 0003's planner settings to the functions redefined here.
DO $$
DECLARE
  f regprocedure;
BEGIN
  FOR f IN
    SELECT p.oid::regprocedure FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
    WHERE n.nspname = 'tasker' AND p.proname IN ('send_step_messages', 'create_task', 'claim_steps')
  LOOP
    EXECUTE format('ALTER FUNCTION %s SET plan_cache_mode = force_generic_plan', f);
    EXECUTE format('ALTER FUNCTION %s SET enable_seqscan = off', f);
    EXECUTE format('ALTER FUNCTION %s SET enable_mergejoin = off', f);
    EXECUTE format('ALTER FUNCTION %s SET enable_hashjoin = off', f);
  END LOOP;
END $$;
