-- Dynamic workflows (issue 5): decision points, deferred convergence, batch processing with checkpoints.
--
-- Every step of a task except batch_worker blueprints is created with the task, as before. What changes at run
-- time is which of them run:
-- * a completed `decision` step's outcome names the branches (its dependents) that run; the others move to the
--   new terminal state `skipped`, and so does everything that depends on a skipped step, except
--   `deferred_convergence` steps, which wait only for the parents that were not skipped (and are skipped
--   themselves when all their parents were). An invalid outcome fails the decision step (INVALID_DECISION).
-- * a completed `batchable` step's outcome says how many items there are; its batch_worker blueprint is then
--   instantiated once per batch (`<worker>_000`, ...), each with its cursor range in inputs.__batch, between the
--   batchable step and the convergence step. At creation the convergence step gets an edge from the batchable
--   step standing in for the blueprint, so zero batches release it at once and a skipped batchable step skips it.
-- * with batch_config.failure_strategy = continue, a permanently failed batch worker ends in `error` but
--   releases the convergence step and does not fail the task (`tolerate_failure`).
-- * batch workers save checkpoints (tasker.checkpoint_step) that a retried attempt receives from claim_steps.
-- The bodies below are those of the previous migrations except where marked "0011".
-- (create_task is based on migrations/0010_priorities.sql.)

INSERT INTO tasker.step_states (state, terminal) VALUES ('skipped', true) ON CONFLICT (state) DO NOTHING;
INSERT INTO tasker.step_state_transitions (from_state, to_state) VALUES ('pending', 'skipped')
ON CONFLICT DO NOTHING;

CREATE OR REPLACE FUNCTION tasker.is_step_state(p_state text) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT p_state = ANY ('{pending,enqueued,in_progress,enqueued_for_orchestration,
    enqueued_as_error_for_orchestration,waiting_for_retry,complete,error,cancelled,resolved_manually,skipped}'::text[])
$$;

CREATE OR REPLACE FUNCTION tasker.is_allowed_step_transition(p_from text, p_to text) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE WHEN p_from IS NULL THEN coalesce(p_to = 'pending', false) ELSE coalesce(
    (p_from || '>' || p_to) = ANY ('{pending>enqueued,enqueued>in_progress,in_progress>enqueued_for_orchestration,
    in_progress>enqueued_as_error_for_orchestration,in_progress>enqueued,enqueued_for_orchestration>complete,
    enqueued_for_orchestration>error,enqueued_as_error_for_orchestration>waiting_for_retry,
    enqueued_as_error_for_orchestration>error,waiting_for_retry>pending,error>pending,pending>skipped}'::text[])
      OR (p_to IN ('cancelled', 'resolved_manually', 'complete')
          AND p_from = ANY ('{pending,enqueued,in_progress,enqueued_for_orchestration,
            enqueued_as_error_for_orchestration,waiting_for_retry,error}'::text[])), false) END
$$;

ALTER TABLE tasker.template_steps
  ADD COLUMN IF NOT EXISTS step_type text NOT NULL DEFAULT 'standard'
    CHECK (step_type IN ('standard', 'decision', 'deferred_convergence', 'batchable', 'batch_worker')),
  ADD COLUMN IF NOT EXISTS batch_config jsonb;
ALTER TABLE tasker.workflow_steps
  ADD COLUMN IF NOT EXISTS step_type text NOT NULL DEFAULT 'standard'
    CHECK (step_type IN ('standard', 'decision', 'deferred_convergence', 'batchable', 'batch_worker')),
  -- Parents released by being skipped (deferred convergence steps only).
  ADD COLUMN IF NOT EXISTS skipped_parents int NOT NULL DEFAULT 0,
  -- A permanent failure of this step neither fails the task nor holds back its dependents (batch `continue`).
  ADD COLUMN IF NOT EXISTS tolerate_failure boolean NOT NULL DEFAULT false,
  -- The last checkpoint a batch worker saved: { cursor, ..., saved_at, attempt }.
  ADD COLUMN IF NOT EXISTS checkpoint jsonb;

-- How far a step is from running (see 0004). 0011: skipped steps read as skipped.
CREATE OR REPLACE FUNCTION tasker.step_readiness(p_state text, p_pending_parents int) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE
    WHEN p_state = 'pending' AND p_pending_parents = 0 THEN 'ready'
    WHEN p_state = 'pending' THEN 'waiting_for_dependencies'
    WHEN p_state = 'waiting_for_retry' THEN 'waiting_for_retry'
    WHEN p_state IN ('enqueued', 'in_progress', 'enqueued_for_orchestration',
                     'enqueued_as_error_for_orchestration') THEN 'running'
    WHEN p_state IN ('complete', 'resolved_manually') THEN 'done'
    WHEN p_state = 'error' THEN 'failed'
    WHEN p_state = 'skipped' THEN 'skipped'
    ELSE 'cancelled'
  END
$$;

-- Template registration (see 0003). 0011: stores each step's type and batch settings.
CREATE OR REPLACE FUNCTION tasker.register_template(p_definition jsonb, p_sha256 text)
RETURNS TABLE (template_uuid uuid, created boolean)
LANGUAGE plpgsql AS $$
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

  -- 0011: step_type and batch_config.
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
END $$;

-- Task creation. 0011: blueprints excluded, step types copied, blueprint dependencies stand in.
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

  -- 0011: batch_worker blueprints are not steps of the task (their instances are created per batch).
  SELECT count(*), count(*) FILTER (WHERE cardinality(ts.depends_on) = 0) INTO v_total, v_roots
  FROM tasker.template_steps ts WHERE ts.template_uuid = v_template_uuid AND ts.step_type <> 'batch_worker';

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
                                       retryable, retry_policy, timeout_ms, inputs, step_type)
    SELECT tasker.uuid_generate_v7(), v_task, ts.name, ts.handler,
           CASE WHEN cardinality(ts.depends_on) = 0 THEN 'enqueued' ELSE 'pending' END,
           cardinality(ts.depends_on), ts.max_attempts, ts.retryable, ts.retry_policy, ts.timeout_ms, ts.inputs,
           ts.step_type
    FROM tasker.template_steps ts WHERE ts.template_uuid = v_template_uuid AND ts.step_type <> 'batch_worker'
    ORDER BY ts.position
    RETURNING step_uuid, name, state
  ),
  edges AS (
    INSERT INTO tasker.workflow_step_edges (from_step_uuid, to_step_uuid)
    SELECT parent.step_uuid, child.step_uuid
    FROM steps child
    JOIN tasker.template_steps ts ON ts.template_uuid = v_template_uuid AND ts.name = child.name
    CROSS JOIN LATERAL unnest(ts.depends_on) AS dep(name)
    -- 0011: a dependency on a batch_worker blueprint is, until its batches exist, an edge from its batchable step.
    JOIN tasker.template_steps dt ON dt.template_uuid = v_template_uuid AND dt.name = dep.name
    JOIN steps parent ON parent.name = CASE WHEN dt.step_type = 'batch_worker' THEN dt.depends_on[1] ELSE dep.name END
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

-- Worker claim (see 0009). 0011: returns the step's checkpoint; dependency results skip skipped steps.
DROP FUNCTION IF EXISTS tasker.claim_steps(text, int, double precision, text);
CREATE FUNCTION tasker.claim_steps(p_queue text, p_limit int, p_vt_seconds double precision, p_worker text)
RETURNS TABLE (msg_id bigint, step_uuid uuid, task_uuid uuid, step_name text, handler text, attempt int,
               max_attempts int, retryable boolean, retry_policy jsonb, timeout_ms int, inputs jsonb,
               context jsonb, namespace text, template_name text, template_version text, correlation_id uuid,
               dependency_results jsonb, traceparent text, tracestate text, checkpoint jsonb)
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
    -- 0011: skipped ancestors did not run and are left out; a tolerated failure (batch `continue`) is passed
    -- on as { __failed: true, error }.
    SELECT a.step_uuid,
           jsonb_object_agg(p.name, CASE WHEN p.state = 'error'
                                         THEN jsonb_build_object('__failed', true, 'error', p.results->'error')
                                         ELSE p.results->'result' END) AS results
    FROM ancestors a JOIN tasker.workflow_steps p ON p.step_uuid = a.ancestor
    WHERE p.state <> 'skipped'
    GROUP BY a.step_uuid
  )
  SELECT m.msg_id, s.step_uuid, s.task_uuid, s.name::text, s.handler, s.attempts, s.max_attempts, s.retryable,
         s.retry_policy, s.timeout_ms, s.inputs, t.context, t.namespace::text, tp.name::text, tp.version::text,
         t.correlation_id, coalesce(d.results, '{}'::jsonb), m.traceparent, m.tracestate, s.checkpoint
  FROM unnest(v_msgs, v_steps, v_traceparents, v_tracestates) AS m(msg_id, step_uuid, traceparent, tracestate)
  JOIN tasker.workflow_steps s ON s.step_uuid = m.step_uuid
  JOIN tasker.tasks t ON t.task_uuid = s.task_uuid
  JOIN tasker.templates tp ON tp.template_uuid = t.template_uuid
  LEFT JOIN deps d ON d.step_uuid = s.step_uuid
  WHERE s.step_uuid = ANY(v_keep);
END $$;

-- A batch worker's progress, saved at once by the attempt that owns the step (refused otherwise).
CREATE OR REPLACE FUNCTION tasker.checkpoint_step(p_step uuid, p_attempt int, p_checkpoint jsonb) RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
  IF jsonb_typeof(p_checkpoint) IS DISTINCT FROM 'object' OR jsonb_typeof(p_checkpoint->'cursor') IS DISTINCT FROM 'number' THEN
    RAISE EXCEPTION 'a checkpoint must be an object with a numeric cursor' USING ERRCODE = 'TK422';
  END IF;
  UPDATE tasker.workflow_steps s
  SET checkpoint = p_checkpoint || jsonb_build_object('attempt', p_attempt, 'saved_at', clock_timestamp()),
      updated_at = now()
  WHERE s.step_uuid = p_step AND s.state = 'in_progress' AND s.attempts = p_attempt;
  RETURN FOUND;
END $$;

-- Step resolution (see 0007). 0011: decisions, batch expansion, skipping, tolerated batch failures.
CREATE OR REPLACE FUNCTION tasker.resolve_steps(p_steps uuid[], p_processor text)
RETURNS TABLE (steps_enqueued int, tasks_finalized int, next_retry_at timestamptz, finalized jsonb)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  v_steps uuid[] := p_steps;
  v_tasks uuid[];
  v_children uuid[];
  v_complete uuid[];
  v_error uuid[];
  v_retry uuid[];
  v_ready uuid[];
  v_enqueue uuid[];
  v_failing_tasks uuid[];
  v_done uuid[];
  v_to_error_running uuid[];
  v_to_error_blocked uuid[];
  v_to_blocked uuid[];
  v_to_wait uuid[];
  v_next timestamptz;
  -- 0007: templates of the tasks finalized in this call (one entry per task), and their grouping.
  v_done_templates uuid[];
  v_error_templates uuid[];
  v_finalized jsonb := '[]';
  -- 0011: dynamic workflows.
  v_tolerated uuid[];
  v_decisions uuid[];
  v_batchables uuid[];
  v_skip_seeds uuid[] := '{}';
  v_skipped uuid[] := '{}';
  v_frontier uuid[];
  v_now uuid[];
  v_conv_ready uuid[] := '{}';
  v_step record;
  v_bp record;
  v_reason text;
  v_chosen text[];
  v_branches text[];
  v_unknown text[];
  v_outcome jsonb;
  v_ranges jsonb;
  v_n bigint;
  v_size bigint;
  v_max int;
  v_total_items bigint;
  v_new uuid[];
  v_conv uuid[];
  v_cancel_enqueued uuid[] := '{}';
  v_cancel_pending uuid[] := '{}';
BEGIN
  SELECT array_agg(l.task_uuid) INTO v_tasks FROM (
    SELECT t.task_uuid FROM tasker.tasks t
    WHERE t.task_uuid = ANY(ARRAY(SELECT s.task_uuid FROM tasker.workflow_steps s WHERE s.step_uuid = ANY(v_steps)))
    ORDER BY t.task_uuid
    FOR UPDATE OF t
  ) l;

  -- Decide each result. Template retryable=false, a handler error marked non-retryable, or no attempts left make
  -- the failure permanent. Steps not waiting for orchestration (duplicate messages) are ignored.
  WITH decided AS (
    SELECT s.step_uuid, s.step_type,
      CASE
        WHEN s.state = 'enqueued_for_orchestration' AND coalesce((s.results->>'success')::boolean, false) THEN 'complete'
        WHEN NOT s.retryable OR s.attempts >= s.max_attempts
             OR coalesce((s.results->'error'->>'retryable')::boolean, true) = false
             OR s.state = 'enqueued_for_orchestration'
          -- 0011: a batch worker under failure strategy `continue` fails without failing the task.
          THEN CASE WHEN s.tolerate_failure THEN 'tolerated' ELSE 'error' END
        ELSE 'retry'
      END AS outcome
    FROM tasker.workflow_steps s
    WHERE s.step_uuid = ANY(v_steps)
      AND s.state IN ('enqueued_for_orchestration', 'enqueued_as_error_for_orchestration')
  )
  SELECT coalesce(array_agg(step_uuid) FILTER (WHERE outcome = 'complete'), '{}'),
         coalesce(array_agg(step_uuid) FILTER (WHERE outcome = 'error'), '{}'),
         coalesce(array_agg(step_uuid) FILTER (WHERE outcome = 'retry'), '{}'),
         coalesce(array_agg(step_uuid) FILTER (WHERE outcome = 'tolerated'), '{}'),
         coalesce(array_agg(step_uuid) FILTER (WHERE outcome = 'complete' AND step_type = 'decision'), '{}'),
         coalesce(array_agg(step_uuid) FILTER (WHERE outcome = 'complete' AND step_type = 'batchable'), '{}')
  INTO v_complete, v_error, v_retry, v_tolerated, v_decisions, v_batchables
  FROM decided;

  -- 0011: decisions. The outcome names branches (dependents that are not convergence steps); the others are
  -- skipped below. An outcome that is missing, malformed or names a step that is not a branch fails the
  -- decision step, and so the task, with the reason: it never completes without its branches.
  IF cardinality(v_decisions) > 0 THEN
    FOR v_step IN SELECT s.step_uuid, s.name, s.results FROM tasker.workflow_steps s WHERE s.step_uuid = ANY(v_decisions)
    LOOP
      v_outcome := v_step.results->'result'->'decision_point_outcome';
      v_reason := NULL;
      v_chosen := '{}';
      v_branches := ARRAY(SELECT c.name::text FROM tasker.workflow_step_edges e
                          JOIN tasker.workflow_steps c ON c.step_uuid = e.to_step_uuid
                          WHERE e.from_step_uuid = v_step.step_uuid AND c.step_type <> 'deferred_convergence'
                          ORDER BY c.name);
      IF jsonb_typeof(v_outcome) IS DISTINCT FROM 'object' THEN
        v_reason := format('decision step %s returned no decision_point_outcome; its handler must return '
                           'decide([...branches]) or noBranches()', v_step.name);
      ELSIF v_outcome->>'type' = 'no_branches' THEN
        v_chosen := '{}';
      ELSIF v_outcome->>'type' = 'create_steps' AND jsonb_typeof(v_outcome->'step_names') = 'array' THEN
        v_chosen := ARRAY(SELECT x FROM jsonb_array_elements_text(v_outcome->'step_names') AS x);
        v_unknown := ARRAY(SELECT u FROM unnest(v_chosen) AS u WHERE NOT (u = ANY(v_branches)));
        IF cardinality(v_unknown) > 0 THEN
          v_reason := format('decision step %s chose %s, which is not one of its branches (%s)', v_step.name,
                             array_to_string(v_unknown, ', '), array_to_string(v_branches, ', '));
        END IF;
      ELSE
        v_reason := format('decision step %s returned a decision_point_outcome of unknown type %s '
                           '(expected create_steps with step_names, or no_branches)', v_step.name,
                           coalesce(v_outcome->>'type', 'null'));
      END IF;
      IF v_reason IS NOT NULL THEN
        v_complete := array_remove(v_complete, v_step.step_uuid);
        v_error := v_error || v_step.step_uuid;
        UPDATE tasker.workflow_steps s
        SET results = jsonb_build_object('success', false, 'result', s.results->'result',
              'error', jsonb_build_object('name', 'InvalidDecision', 'code', 'INVALID_DECISION', 'message', v_reason,
                                          'retryable', false),
              'metadata', s.results->'metadata')
        WHERE s.step_uuid = v_step.step_uuid;
      ELSE
        v_skip_seeds := v_skip_seeds || ARRAY(
          SELECT c.step_uuid FROM tasker.workflow_step_edges e JOIN tasker.workflow_steps c ON c.step_uuid = e.to_step_uuid
          WHERE e.from_step_uuid = v_step.step_uuid AND c.step_type <> 'deferred_convergence'
            AND NOT (c.name = ANY(v_chosen)));
      END IF;
    END LOOP;
  END IF;

  -- 0011: batch expansion. One batch_worker instance per range, between the batchable step and the convergence
  -- step(s) waiting for the blueprint; the batchable step's stand-in edge to them is released below like any
  -- other edge, so zero batches let the convergence step run at once. A malformed outcome or too many batches
  -- fails the batchable step with the reason.
  IF cardinality(v_batchables) > 0 THEN
    FOR v_step IN
      SELECT s.step_uuid, s.task_uuid, s.name, s.results, t.template_uuid
      FROM tasker.workflow_steps s JOIN tasker.tasks t ON t.task_uuid = s.task_uuid
      WHERE s.step_uuid = ANY(v_batchables)
    LOOP
      v_outcome := v_step.results->'result'->'batch_processing_outcome';
      v_reason := NULL;
      v_ranges := NULL;
      v_total_items := NULL;
      SELECT ts.name, ts.handler, ts.max_attempts, ts.retryable, ts.retry_policy, ts.timeout_ms, ts.inputs,
             ts.batch_config
      INTO v_bp
      FROM tasker.template_steps ts
      WHERE ts.template_uuid = v_step.template_uuid AND ts.step_type = 'batch_worker' AND v_step.name = ANY(ts.depends_on);
      v_max := coalesce((v_bp.batch_config->>'maxBatches')::int, 1000);
      IF jsonb_typeof(v_outcome) IS DISTINCT FROM 'object' OR v_outcome->>'type' IS DISTINCT FROM 'create_batches' THEN
        v_reason := format('batchable step %s returned no batch_processing_outcome; its handler must return '
                           'batches({ totalItems }) or batches({ ranges })', v_step.name);
      ELSIF jsonb_typeof(v_outcome->'ranges') = 'array' THEN
        IF EXISTS (SELECT 1 FROM jsonb_array_elements(v_outcome->'ranges') r
                   WHERE CASE WHEN jsonb_typeof(r->'start') = 'number' AND jsonb_typeof(r->'end') = 'number'
                              THEN (r->>'start')::numeric < 0 OR (r->>'end')::numeric < (r->>'start')::numeric
                                   OR (r->>'start')::numeric <> trunc((r->>'start')::numeric)
                                   OR (r->>'end')::numeric <> trunc((r->>'end')::numeric)
                              ELSE true END) THEN
          v_reason := format('batchable step %s returned invalid ranges: each needs whole numbers 0 <= start <= end',
                             v_step.name);
        ELSE
          v_ranges := v_outcome->'ranges';
          v_total_items := (SELECT coalesce(sum((r->>'end')::bigint - (r->>'start')::bigint), 0)
                            FROM jsonb_array_elements(v_ranges) r);
        END IF;
      ELSIF jsonb_typeof(v_outcome->'total_items') = 'number' AND (v_outcome->>'total_items')::numeric >= 0
            AND (v_outcome->>'total_items')::numeric = trunc((v_outcome->>'total_items')::numeric)
            AND (v_outcome->'batch_size' IS NULL OR (jsonb_typeof(v_outcome->'batch_size') = 'number'
                 AND (v_outcome->>'batch_size')::numeric >= 1
                 AND (v_outcome->>'batch_size')::numeric = trunc((v_outcome->>'batch_size')::numeric))) THEN
        v_total_items := (v_outcome->>'total_items')::bigint;
        v_size := coalesce((v_outcome->>'batch_size')::bigint, (v_bp.batch_config->>'batchSize')::bigint, 100);
        IF (v_total_items + v_size - 1) / v_size <= v_max THEN
          v_ranges := (SELECT coalesce(jsonb_agg(jsonb_build_object('start', g, 'end', least(g + v_size, v_total_items))
                                                 ORDER BY g), '[]'::jsonb)
                       FROM generate_series(0::bigint, v_total_items - 1, v_size) AS g);
        ELSE
          v_ranges := NULL;
          v_reason := format('batchable step %s would create %s batches (%s items of %s); the limit is %s '
                             '(batch_config.max_batches of %s)', v_step.name, (v_total_items + v_size - 1) / v_size,
                             v_total_items, v_size, v_max, v_bp.name);
        END IF;
      ELSE
        v_reason := format('batchable step %s returned a batch_processing_outcome without a whole total_items >= 0 '
                           '(and an optional whole batch_size >= 1)', v_step.name);
      END IF;
      IF v_reason IS NULL THEN
        v_n := jsonb_array_length(v_ranges);
        IF v_n > v_max THEN
          v_reason := format('batchable step %s would create %s batches; the limit is %s (batch_config.max_batches of %s)',
                             v_step.name, v_n, v_max, v_bp.name);
        END IF;
      END IF;

      IF v_reason IS NOT NULL THEN
        v_complete := array_remove(v_complete, v_step.step_uuid);
        v_error := v_error || v_step.step_uuid;
        UPDATE tasker.workflow_steps s
        SET results = jsonb_build_object('success', false, 'result', s.results->'result',
              'error', jsonb_build_object('name', 'InvalidBatchOutcome', 'code', 'INVALID_BATCH_OUTCOME',
                                          'message', v_reason, 'retryable', false),
              'metadata', s.results->'metadata')
        WHERE s.step_uuid = v_step.step_uuid;
        CONTINUE;
      END IF;
      IF v_n = 0 THEN CONTINUE; END IF;

      WITH r AS (
        SELECT (x->>'start')::bigint AS lo, (x->>'end')::bigint AS hi, (o - 1)::int AS idx
        FROM jsonb_array_elements(v_ranges) WITH ORDINALITY AS a(x, o)
      ), ins AS (
        INSERT INTO tasker.workflow_steps (step_uuid, task_uuid, name, handler, state, pending_parents, max_attempts,
                                           retryable, retry_policy, timeout_ms, inputs, step_type, tolerate_failure)
        SELECT tasker.uuid_generate_v7(), v_step.task_uuid,
               v_bp.name || '_' || lpad(r.idx::text, greatest(3, length((v_n - 1)::text)), '0'),
               v_bp.handler, 'pending', 1, v_bp.max_attempts, v_bp.retryable, v_bp.retry_policy, v_bp.timeout_ms,
               coalesce(v_bp.inputs, '{}'::jsonb) || jsonb_build_object('__batch', jsonb_build_object(
                 'index', r.idx, 'count', v_n, 'start', r.lo, 'end', r.hi, 'total_items', v_total_items,
                 'failure_strategy', coalesce(v_bp.batch_config->>'failureStrategy', 'fail_fast'))),
               'batch_worker', coalesce(v_bp.batch_config->>'failureStrategy', 'fail_fast') = 'continue'
        FROM r ORDER BY r.idx
        RETURNING workflow_steps.step_uuid
      )
      SELECT array_agg(ins.step_uuid) INTO v_new FROM ins;

      INSERT INTO tasker.workflow_step_transitions (step_uuid, from_state, to_state, event, sort_key, most_recent,
                                                    metadata, processor)
      SELECT u, NULL, 'pending', 'Create', 1, true, jsonb_build_object('batch_of', v_step.name), p_processor
      FROM unnest(v_new) AS u;

      v_conv := ARRAY(
        SELECT c.step_uuid FROM tasker.workflow_step_edges e JOIN tasker.workflow_steps c ON c.step_uuid = e.to_step_uuid
        JOIN tasker.template_steps ts ON ts.template_uuid = v_step.template_uuid AND ts.name = c.name
        WHERE e.from_step_uuid = v_step.step_uuid AND c.step_type = 'deferred_convergence'
          AND v_bp.name = ANY(ts.depends_on));
      INSERT INTO tasker.workflow_step_edges (from_step_uuid, to_step_uuid)
      SELECT v_step.step_uuid, u FROM unnest(v_new) AS u
      UNION ALL
      SELECT w, c FROM unnest(v_new) AS w CROSS JOIN unnest(v_conv) AS c;
      UPDATE tasker.workflow_steps c SET pending_parents = c.pending_parents + v_n WHERE c.step_uuid = ANY(v_conv);
      UPDATE tasker.tasks t SET steps_total = t.steps_total + v_n, steps_remaining = t.steps_remaining + v_n
      WHERE t.task_uuid = v_step.task_uuid;
    END LOOP;
  END IF;

  -- 0011: skipping. Each round skips the pending steps of the frontier and releases their dependents: a
  -- convergence step counts the skipped parent as settled (and is skipped itself once every parent was); any
  -- other dependent is skipped in the next round. A skipped step was never in flight.
  v_frontier := v_skip_seeds;
  WHILE cardinality(v_frontier) > 0 LOOP
    WITH sk AS (
      UPDATE tasker.workflow_steps s SET state = 'skipped', updated_at = now()
      WHERE s.step_uuid = ANY(v_frontier) AND s.state = 'pending'
      RETURNING s.step_uuid
    )
    SELECT coalesce(array_agg(sk.step_uuid), '{}') INTO v_now FROM sk;
    EXIT WHEN cardinality(v_now) = 0;
    PERFORM tasker.log_step_transitions(v_now, 'skipped', 'Skip', p_processor);
    v_skipped := v_skipped || v_now;
    WITH released AS (
      SELECT e.to_step_uuid, count(*)::int AS n FROM tasker.workflow_step_edges e
      WHERE e.from_step_uuid = ANY(v_now) GROUP BY e.to_step_uuid
    ), conv AS (
      UPDATE tasker.workflow_steps c
      SET pending_parents = c.pending_parents - r.n, skipped_parents = c.skipped_parents + r.n
      FROM released r
      WHERE c.step_uuid = ANY(ARRAY(SELECT r2.to_step_uuid FROM released r2)) AND c.step_uuid = r.to_step_uuid
        AND c.step_type = 'deferred_convergence' AND c.state = 'pending'
      RETURNING c.step_uuid, c.pending_parents, c.skipped_parents
    ), settled AS (
      SELECT conv.step_uuid,
             conv.skipped_parents >= (SELECT count(*) FROM tasker.workflow_step_edges e2
                                      WHERE e2.to_step_uuid = conv.step_uuid) AS all_skipped
      FROM conv WHERE conv.pending_parents = 0
    )
    SELECT coalesce(array_agg(r.to_step_uuid) FILTER (WHERE c.step_type <> 'deferred_convergence'), '{}')
           || coalesce((SELECT array_agg(st.step_uuid) FROM settled st WHERE st.all_skipped), '{}'),
           v_conv_ready || coalesce((SELECT array_agg(st.step_uuid) FROM settled st WHERE NOT st.all_skipped), '{}')
    INTO v_frontier, v_conv_ready
    FROM released r JOIN tasker.workflow_steps c ON c.step_uuid = r.to_step_uuid
    WHERE c.step_uuid = ANY(ARRAY(SELECT r3.to_step_uuid FROM released r3));
  END LOOP;

  -- 0011: fail_fast. A batch that failed for good stops the batches of its batchable step that have not started:
  -- they are cancelled (their messages are dropped by the next claim that reads them); running batches finish,
  -- and the task fails as soon as they have.
  IF cardinality(v_error) > 0 THEN
    -- Locked before they are changed: a worker may be claiming one of them right now (claims skip locked rows;
    -- a row claimed first is re-checked and left alone).
    WITH target AS (
      SELECT sib.step_uuid, sib.state AS was
      FROM tasker.workflow_steps f
      JOIN tasker.workflow_step_edges up ON up.to_step_uuid = f.step_uuid
      JOIN tasker.workflow_step_edges down ON down.from_step_uuid = up.from_step_uuid
      JOIN tasker.workflow_steps sib ON sib.step_uuid = down.to_step_uuid
      WHERE f.step_uuid = ANY(v_error) AND f.step_type = 'batch_worker'
        AND sib.step_type = 'batch_worker' AND sib.state IN ('pending', 'enqueued') AND NOT sib.tolerate_failure
      FOR UPDATE OF sib
    ), upd AS (
      UPDATE tasker.workflow_steps s SET state = 'cancelled', updated_at = now()
      FROM (SELECT DISTINCT target.step_uuid, target.was FROM target) t
      WHERE s.step_uuid = t.step_uuid AND s.state IN ('pending', 'enqueued')
      RETURNING s.step_uuid, t.was
    )
    SELECT coalesce(array_agg(upd.step_uuid) FILTER (WHERE upd.was = 'enqueued'), '{}'),
           coalesce(array_agg(upd.step_uuid) FILTER (WHERE upd.was = 'pending'), '{}')
    INTO v_cancel_enqueued, v_cancel_pending
    FROM upd;
    IF cardinality(v_cancel_enqueued) + cardinality(v_cancel_pending) > 0 THEN
      PERFORM tasker.log_step_transitions(v_cancel_enqueued || v_cancel_pending, 'cancelled', 'Cancel', p_processor,
                                          jsonb_build_object('reason', 'fail_fast: another batch failed'));
    END IF;
  END IF;

  IF cardinality(v_tolerated) > 0 THEN
    UPDATE tasker.workflow_steps SET state = 'error', updated_at = now() WHERE step_uuid = ANY(v_tolerated);
    PERFORM tasker.log_step_transitions(v_tolerated, 'error', 'Fail', p_processor,
                                        jsonb_build_object('tolerated', true));
  END IF;

  IF cardinality(v_complete) + cardinality(v_tolerated) > 0 THEN
    IF cardinality(v_complete) > 0 THEN
      UPDATE tasker.workflow_steps SET state = 'complete', processed_at = now(), updated_at = now()
      WHERE step_uuid = ANY(v_complete);
      PERFORM tasker.log_step_transitions(v_complete, 'complete', 'Complete', p_processor);
    END IF;

    -- 0011: tolerated failures release their dependents like completions.
    v_children := ARRAY(SELECT DISTINCT e.to_step_uuid FROM tasker.workflow_step_edges e
                        WHERE e.from_step_uuid = ANY(v_complete || v_tolerated));
    WITH released AS (
      SELECT e.to_step_uuid, count(*)::int AS n FROM tasker.workflow_step_edges e
      WHERE e.from_step_uuid = ANY(v_complete || v_tolerated) GROUP BY e.to_step_uuid
    ), decremented AS (
      UPDATE tasker.workflow_steps c SET pending_parents = c.pending_parents - released.n
      FROM released WHERE c.step_uuid = ANY(v_children) AND c.step_uuid = released.to_step_uuid
      RETURNING c.step_uuid, c.pending_parents, c.state
    )
    SELECT coalesce(array_agg(step_uuid) FILTER (WHERE pending_parents = 0 AND state = 'pending'), '{}')
    INTO v_ready FROM decremented;
  ELSE
    v_ready := '{}';
  END IF;
  v_ready := v_ready || v_conv_ready;

  IF cardinality(v_error) > 0 THEN
    UPDATE tasker.workflow_steps SET state = 'error', updated_at = now() WHERE step_uuid = ANY(v_error);
    PERFORM tasker.log_step_transitions(v_error, 'error', 'Fail', p_processor);
  END IF;

  IF cardinality(v_retry) > 0 THEN
    -- The worker computed the delay (exponential backoff with jitter, or the handler's retryAfterMs, capped).
    UPDATE tasker.workflow_steps s
    SET state = 'waiting_for_retry', updated_at = now(),
        next_retry_at = now() + make_interval(secs => greatest(coalesce((s.results->>'retry_delay_ms')::numeric, 0), 0) / 1000.0)
    WHERE s.step_uuid = ANY(v_retry);
    PERFORM tasker.log_step_transitions(v_retry, 'waiting_for_retry', 'WaitForRetry', p_processor);
    SELECT min(s.next_retry_at) INTO v_next FROM tasker.workflow_steps s WHERE s.step_uuid = ANY(v_retry);
  END IF;

  -- Tasks with a failure (now or before) enqueue nothing new: they are on their way to error.
  v_enqueue := '{}';
  IF cardinality(v_ready) > 0 THEN
    IF cardinality(v_error) > 0 THEN
      SELECT coalesce(array_agg(DISTINCT s.task_uuid), '{}') INTO v_failing_tasks
      FROM tasker.workflow_steps s WHERE s.step_uuid = ANY(v_error);
    ELSE
      v_failing_tasks := '{}';
    END IF;
    SELECT coalesce(array_agg(c.step_uuid), '{}') INTO v_enqueue
    FROM tasker.workflow_steps c JOIN tasker.tasks t ON t.task_uuid = c.task_uuid
    WHERE c.step_uuid = ANY(v_ready) AND t.state = 'steps_in_process' AND NOT (t.task_uuid = ANY(v_failing_tasks));
  END IF;

  IF cardinality(v_enqueue) > 0 THEN
    UPDATE tasker.workflow_steps SET state = 'enqueued', updated_at = now() WHERE step_uuid = ANY(v_enqueue);
    PERFORM tasker.log_step_transitions(v_enqueue, 'enqueued', 'Enqueue', p_processor);
    PERFORM tasker.send_step_messages(v_enqueue);
  END IF;

  -- Task counters, then finalization by group.
  WITH outcome AS (
    SELECT u AS step_uuid, 'complete'::text AS kind FROM unnest(v_complete) AS u
    UNION ALL SELECT u, 'error' FROM unnest(v_error) u
    UNION ALL SELECT u, 'retry' FROM unnest(v_retry) u
    UNION ALL SELECT u, 'enqueue' FROM unnest(v_enqueue) u
    -- 0011: tolerated failures count as done; skipped steps are done and were never in flight.
    UNION ALL SELECT u, 'tolerated' FROM unnest(v_tolerated) u
    UNION ALL SELECT u, 'skipped' FROM unnest(v_skipped) u
    UNION ALL SELECT u, 'withdrawn' FROM unnest(v_cancel_enqueued) u
  ), per_task AS (
    SELECT s.task_uuid,
           count(*) FILTER (WHERE o.kind IN ('complete', 'tolerated', 'skipped'))::int AS completed,
           count(*) FILTER (WHERE o.kind IN ('complete', 'tolerated', 'error', 'retry', 'withdrawn'))::int AS settled,
           count(*) FILTER (WHERE o.kind = 'enqueue')::int AS enqueued,
           (array_agg(jsonb_build_object('step_uuid', s.step_uuid, 'step_name', s.name, 'error', s.results->'error'))
              FILTER (WHERE o.kind = 'error'))[1] AS first_error
    FROM outcome o JOIN tasker.workflow_steps s ON s.step_uuid = o.step_uuid
    WHERE s.step_uuid = ANY(v_complete || v_error || v_retry || v_enqueue || v_tolerated || v_skipped
                            || v_cancel_enqueued)
    GROUP BY s.task_uuid
  ), updated AS (
    UPDATE tasker.tasks t
    SET steps_remaining = t.steps_remaining - p.completed,
        steps_in_flight = t.steps_in_flight - p.settled + p.enqueued,
        error = coalesce(t.error, p.first_error),
        updated_at = now()
    FROM per_task p WHERE t.task_uuid = ANY(v_tasks) AND t.task_uuid = p.task_uuid
    -- 0007: template_uuid added.
    RETURNING t.task_uuid, t.template_uuid, t.state, t.steps_remaining, t.steps_in_flight, t.error IS NOT NULL AS failing
  )
  SELECT
    coalesce(array_agg(task_uuid) FILTER (WHERE state = 'steps_in_process' AND steps_remaining = 0), '{}'),
    coalesce(array_agg(task_uuid) FILTER (WHERE state = 'steps_in_process' AND steps_remaining > 0 AND failing AND steps_in_flight = 0), '{}'),
    coalesce(array_agg(task_uuid) FILTER (WHERE state = 'blocked_by_failures' AND steps_in_flight = 0), '{}'),
    coalesce(array_agg(task_uuid) FILTER (WHERE state = 'steps_in_process' AND steps_remaining > 0 AND failing AND steps_in_flight > 0), '{}'),
    coalesce(array_agg(task_uuid) FILTER (WHERE state = 'steps_in_process' AND steps_remaining > 0 AND NOT failing AND steps_in_flight = 0), '{}'),
    -- 0007: the same filters as v_done and v_to_error_running || v_to_error_blocked, collecting templates.
    coalesce(array_agg(template_uuid) FILTER (WHERE state = 'steps_in_process' AND steps_remaining = 0), '{}'),
    coalesce(array_agg(template_uuid) FILTER (WHERE
      (state = 'steps_in_process' AND steps_remaining > 0 AND failing AND steps_in_flight = 0)
      OR (state = 'blocked_by_failures' AND steps_in_flight = 0)), '{}')
  INTO v_done, v_to_error_running, v_to_error_blocked, v_to_blocked, v_to_wait, v_done_templates, v_error_templates
  FROM updated;

  IF cardinality(v_done) > 0 THEN
    PERFORM tasker.move_tasks(v_done, ARRAY['evaluating_results', 'complete'],
                              ARRAY['StepCompleted', 'AllStepsSuccessful'], p_processor);
  END IF;
  IF cardinality(v_to_error_running) > 0 THEN
    PERFORM tasker.move_tasks(v_to_error_running, ARRAY['evaluating_results', 'blocked_by_failures', 'error'],
                              ARRAY['StepCompleted', 'PermanentFailure', 'GiveUp'], p_processor);
  END IF;
  IF cardinality(v_to_error_blocked) > 0 THEN
    PERFORM tasker.move_tasks(v_to_error_blocked, ARRAY['error'], ARRAY['GiveUp'], p_processor);
  END IF;
  IF cardinality(v_to_blocked) > 0 THEN
    PERFORM tasker.move_tasks(v_to_blocked, ARRAY['evaluating_results', 'blocked_by_failures'],
                              ARRAY['StepCompleted', 'PermanentFailure'], p_processor);
  END IF;
  IF cardinality(v_to_wait) > 0 THEN
    PERFORM tasker.move_tasks(v_to_wait, ARRAY['evaluating_results', 'waiting_for_retry'],
                              ARRAY['StepCompleted', 'RetryScheduled'], p_processor);
  END IF;
  IF cardinality(v_to_error_running) + cardinality(v_to_error_blocked) > 0 THEN
    PERFORM tasker.record_failed_tasks(v_to_error_running || v_to_error_blocked);
  END IF;
  PERFORM tasker.notify_task_events(v_tasks);

  -- 0007: finalized tasks by (namespace, template name, final state); versions of one template are summed.
  IF cardinality(v_done_templates) + cardinality(v_error_templates) > 0 THEN
    SELECT coalesce(jsonb_agg(jsonb_build_object('namespace', g.namespace, 'template', g.name, 'state', g.state,
                                                 'count', g.n)), '[]')
    INTO v_finalized
    FROM (
      SELECT tp.namespace, tp.name, f.state, sum(f.n)::int AS n
      FROM (
        SELECT u AS template_uuid, 'complete'::text AS state, count(*) AS n FROM unnest(v_done_templates) u GROUP BY u
        UNION ALL
        SELECT u, 'error', count(*) FROM unnest(v_error_templates) u GROUP BY u
      ) f
      JOIN tasker.templates tp ON tp.template_uuid = f.template_uuid
      GROUP BY tp.namespace, tp.name, f.state
    ) g;
  END IF;

  RETURN QUERY SELECT cardinality(v_enqueue),
                      cardinality(v_done) + cardinality(v_to_error_running) + cardinality(v_to_error_blocked),
                      v_next,
                      v_finalized;
END $$;

-- CREATE OR REPLACE resets a function's settings: re-apply 0003's planner settings to the functions redefined here.
DO $$
DECLARE
  f regprocedure;
BEGIN
  FOR f IN
    SELECT p.oid::regprocedure FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
    WHERE n.nspname = 'tasker' AND p.proname IN ('create_task', 'claim_steps', 'resolve_steps', 'checkpoint_step')
  LOOP
    EXECUTE format('ALTER FUNCTION %s SET plan_cache_mode = force_generic_plan', f);
    EXECUTE format('ALTER FUNCTION %s SET enable_seqscan = off', f);
    EXECUTE format('ALTER FUNCTION %s SET enable_mergejoin = off', f);
    EXECUTE format('ALTER FUNCTION %s SET enable_hashjoin = off', f);
  END LOOP;
END $$;
