-- The engine's per-step path as set-based SQL functions. Each is one round trip and one transaction:
--   create_task           task + steps + edges + audit rows + first enqueue
--   claim_steps           (worker) lock visible messages, enqueued -> in_progress, return execution context
--   complete_steps        (worker) store results, in_progress -> enqueued[_as_error]_for_orchestration,
--                         delete work messages, send result messages
--   process_step_results  (orchestrator) settle results, resolve dependents, enqueue what became ready,
--                         finalize tasks
--   enqueue_due_retries   (orchestrator timer) re-enqueue steps whose backoff elapsed
-- Custom SQLSTATEs: TK404 template not found, TK409 template conflict, TK422 invalid input, TK441 unknown queue.

-- Appends one audit row per step (most_recent protocol). The insert is driven by the rows the demoting UPDATE
-- returns, so a step's old row is always demoted before its new row is inserted.
CREATE OR REPLACE FUNCTION tasker.log_step_transitions(
  p_steps uuid[], p_to text, p_event text, p_processor text, p_metadata jsonb DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  IF p_steps IS NULL OR cardinality(p_steps) = 0 THEN RETURN; END IF;
  WITH demoted AS (
    UPDATE tasker.workflow_step_transitions t SET most_recent = false
    WHERE t.step_uuid = ANY(p_steps) AND t.most_recent
    RETURNING t.step_uuid, t.to_state, t.sort_key
  )
  INSERT INTO tasker.workflow_step_transitions (step_uuid, from_state, to_state, event, sort_key, most_recent, metadata, processor)
  SELECT d.step_uuid, d.to_state, p_to, p_event, d.sort_key + 1, true, p_metadata, p_processor FROM demoted d;
END $$;

-- Appends a chain of audit rows per task: p_path[i] reached by event p_events[i].
CREATE OR REPLACE FUNCTION tasker.log_task_transitions(
  p_tasks uuid[], p_path text[], p_events text[], p_processor text, p_metadata jsonb DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  i int;
BEGIN
  IF p_tasks IS NULL OR cardinality(p_tasks) = 0 THEN RETURN; END IF;
  FOR i IN 1 .. cardinality(p_path) LOOP
    WITH demoted AS (
      UPDATE tasker.task_transitions t SET most_recent = false
      WHERE t.task_uuid = ANY(p_tasks) AND t.most_recent
      RETURNING t.task_uuid, t.to_state, t.sort_key
    )
    INSERT INTO tasker.task_transitions (task_uuid, from_state, to_state, event, sort_key, most_recent, metadata, processor)
    SELECT d.task_uuid, d.to_state, p_path[i], p_events[i], d.sort_key + 1, true, p_metadata, p_processor FROM demoted d;
  END LOOP;
END $$;

-- Moves tasks to a new state along a path of allowed transitions, recording every hop.
CREATE OR REPLACE FUNCTION tasker.move_tasks(
  p_tasks uuid[], p_path text[], p_events text[], p_processor text, p_metadata jsonb DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  IF p_tasks IS NULL OR cardinality(p_tasks) = 0 THEN RETURN; END IF;
  UPDATE tasker.tasks SET state = p_path[cardinality(p_path)], updated_at = now(),
         completed_at = CASE WHEN p_path[cardinality(p_path)] IN ('complete', 'error', 'cancelled', 'resolved_manually')
                             THEN now() ELSE completed_at END
  WHERE task_uuid = ANY(p_tasks);
  PERFORM tasker.log_task_transitions(p_tasks, p_path, p_events, p_processor, p_metadata);
END $$;

CREATE OR REPLACE FUNCTION tasker.worker_queue_name(p_namespace text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT 'worker_' || p_namespace || '_queue' $$;

-- Sends one step message per step to its namespace queue and notifies each queue once.
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
             jsonb_build_object('task_uuid', s.task_uuid, 'step_uuid', s.step_uuid, 'correlation_id', t.correlation_id)
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

-- Tells event-stream listeners (the API's SSE endpoint) which tasks changed, in the same transaction as the
-- change. Channel `tasker_task_events`, payload: comma-separated task uuids, chunked to stay under the 8000-byte
-- payload limit.
CREATE OR REPLACE FUNCTION tasker.notify_task_events(p_tasks uuid[]) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  v_chunk text;
BEGIN
  IF p_tasks IS NULL OR cardinality(p_tasks) = 0 THEN RETURN; END IF;
  IF cardinality(p_tasks) <= 200 THEN
    PERFORM pg_notify('tasker_task_events', (SELECT string_agg(DISTINCT t::text, ',') FROM unnest(p_tasks) AS t));
    RETURN;
  END IF;
  FOR v_chunk IN
    SELECT string_agg(t::text, ',') FROM (
      SELECT t, (row_number() OVER () - 1) / 200 AS grp FROM (SELECT DISTINCT unnest(p_tasks) AS t) d
    ) c GROUP BY grp
  LOOP
    PERFORM pg_notify('tasker_task_events', v_chunk);
  END LOOP;
END $$;

-- ---------------------------------------------------------------------------------------------------------
-- Template registration: idempotent for identical content, refused for different content under one version.
-- p_definition: { namespace, name, version, description, steps: [{ name, handler, dependsOn, retry, timeoutMs,
-- inputs }] } with steps in topological order.
-- ---------------------------------------------------------------------------------------------------------
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

  INSERT INTO tasker.template_steps (template_uuid, position, name, handler, depends_on, retryable, max_attempts,
                                     retry_policy, timeout_ms, inputs)
  SELECT v_uuid, s.ord - 1, s.step->>'name', s.step->>'handler',
         ARRAY(SELECT jsonb_array_elements_text(coalesce(s.step->'dependsOn', '[]'))),
         (s.step->'retry'->>'retryable')::boolean, (s.step->'retry'->>'maxAttempts')::int,
         s.step->'retry', (s.step->>'timeoutMs')::int,
         CASE WHEN s.step->'inputs' IS NULL OR s.step->'inputs' = '{}'::jsonb THEN NULL ELSE s.step->'inputs' END
  FROM jsonb_array_elements(p_definition->'steps') WITH ORDINALITY AS s(step, ord);

  RETURN QUERY SELECT v_uuid, true;
END $$;

-- Resolves namespace/name@version to a template; without a version, the highest semantic version (a release
-- ranks above its pre-releases). Raises TK404 when nothing matches.
CREATE OR REPLACE FUNCTION tasker.resolve_template(p_namespace text, p_name text, p_version text)
RETURNS TABLE (template_uuid uuid, version text)
LANGUAGE plpgsql STABLE AS $$
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
END $$;

-- ---------------------------------------------------------------------------------------------------------
-- Task creation: one transaction creates the task, its steps, edges and audit rows, and enqueues the root steps.
-- The transient states (initializing, enqueuing_steps) are recorded in the audit trail but never visible to
-- other transactions.
-- p_options: { priority, initiator, source_system, reason, tags, correlation_id, parent_correlation_id,
--              idempotency_key }; p_with_view: also return the task as tasker.get_task_view does.
-- Identity: a request's idempotency_key, else the template's identity_strategy, gives the identity hash; the
-- unique index on it makes a thundering herd of identical requests create exactly one task. `duplicate` says
-- what happened: 'none' (created), 'existing' (same idempotency key: the existing task is returned) or
-- 'conflict' (strict strategy, same context: the existing task's id is returned for a 409).
-- ---------------------------------------------------------------------------------------------------------
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
                            correlation_id, parent_correlation_id, identity_hash)
  VALUES (v_task, v_template_uuid, v_ns, 'steps_in_process', p_context, coalesce((p_options->>'priority')::int, 0),
          v_total, v_total, v_roots, p_options->>'initiator', p_options->>'source_system', p_options->>'reason',
          coalesce(p_options->'tags', '[]'), v_corr, (p_options->>'parent_correlation_id')::uuid, v_hash)
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
         jsonb_build_object('task_uuid', v_task, 'step_uuid', steps.step_uuid, 'correlation_id', v_corr)
  FROM steps WHERE steps.state = 'enqueued';

  PERFORM pg_notify(tasker.queue_channel(tasker.worker_queue_name(v_ns)), '');
  PERFORM pg_notify('tasker_task_events', v_task::text);
  -- The API answers with the whole task: reading it here saves the caller a round trip.
  RETURN QUERY SELECT v_task, 'steps_in_process'::text, v_roots, v_corr, v_version, 'none'::text,
                      CASE WHEN p_with_view THEN tasker.get_task_view(v_task) END;
END $$;

-- ---------------------------------------------------------------------------------------------------------
-- Worker claim. Returns, for each claimed step, everything its handler needs (one round trip).
-- A visible message whose step is still in_progress means the previous claimer's visibility timeout expired
-- (it died or stalled): the step is claimed again as a new attempt, or failed when no attempts are left.
-- Messages whose step has moved on (duplicates) are deleted.
-- ---------------------------------------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION tasker.claim_steps(p_queue text, p_limit int, p_vt_seconds double precision, p_worker text)
RETURNS TABLE (msg_id bigint, step_uuid uuid, task_uuid uuid, step_name text, handler text, attempt int,
               max_attempts int, retryable boolean, retry_policy jsonb, timeout_ms int, inputs jsonb,
               context jsonb, namespace text, template_name text, template_version text, correlation_id uuid,
               dependency_results jsonb)
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
    RETURNING m.msg_id, (m.message->>'step_uuid')::uuid AS step_uuid, (m.message->>'task_uuid')::uuid AS task_uuid
  )
  SELECT array_agg(taken.msg_id), array_agg(taken.step_uuid), array_agg(taken.task_uuid)
  INTO v_msgs, v_steps, v_tasks FROM taken;
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
         t.correlation_id, coalesce(d.results, '{}'::jsonb)
  FROM unnest(v_msgs, v_steps) AS m(msg_id, step_uuid)
  JOIN tasker.workflow_steps s ON s.step_uuid = m.step_uuid
  JOIN tasker.tasks t ON t.task_uuid = s.task_uuid
  JOIN tasker.templates tp ON tp.template_uuid = t.template_uuid
  LEFT JOIN deps d ON d.step_uuid = s.step_uuid
  WHERE s.step_uuid = ANY(v_keep);
END $$;

-- ---------------------------------------------------------------------------------------------------------
-- Worker completion. p_results: [{ step_uuid, msg_id, attempt, success, results }]. A result is applied only if
-- the step is still in_progress at the same attempt (a worker whose lease expired cannot overwrite the attempt
-- that replaced it). Returns one row per input with applied = true/false.
-- p_resolve = true is the fast path: instead of sending result messages for an orchestrator, the same
-- transaction resolves the steps (resolve_steps), which saves a queue hop and a transaction per step. Tasks are
-- locked first, in the same order as resolve_steps, so this never deadlocks with an orchestrator.
-- ---------------------------------------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION tasker.complete_steps(p_results jsonb, p_worker text, p_resolve boolean DEFAULT false)
RETURNS TABLE (step_uuid uuid, applied boolean)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  v_ok uuid[];
  v_failed uuid[];
  v_msgs bigint[];
  v_tasks uuid[];
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
    RETURNING s.step_uuid, s.task_uuid, i.success, i.msg_id
  )
  SELECT array_agg(upd.step_uuid) FILTER (WHERE upd.success), array_agg(upd.step_uuid) FILTER (WHERE NOT upd.success),
         array_agg(upd.msg_id), array_agg(upd.task_uuid)
  INTO v_ok, v_failed, v_msgs, v_tasks
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
  END IF;

  RETURN QUERY
  SELECT (e->>'step_uuid')::uuid,
         (e->>'step_uuid')::uuid = ANY(coalesce(v_ok, '{}') || coalesce(v_failed, '{}'))
  FROM jsonb_array_elements(p_results) e;
END $$;

-- Files a dead-letter entry for each task that just ended in error (at most one open entry per task), with the
-- reason taken from the step error that failed it.
CREATE OR REPLACE FUNCTION tasker.record_failed_tasks(p_tasks uuid[]) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO tasker.tasks_dlq (task_uuid, original_state, dlq_reason, task_snapshot, metadata)
  SELECT t.task_uuid, t.state,
         CASE
           WHEN t.error->'error'->>'code' = 'LEASE_EXPIRED' THEN 'worker_unavailable'
           WHEN coalesce((t.error->'error'->>'retryable')::boolean, true) = false THEN 'permanent_failure'
           ELSE 'max_retries_exceeded'
         END,
         jsonb_build_object('task_uuid', t.task_uuid, 'namespace', t.namespace, 'task_name', tp.name,
                            'version', tp.version, 'state', t.state, 'error', t.error,
                            'correlation_id', t.correlation_id, 'priority', t.priority,
                            'created_at', t.created_at, 'snapshot_at', now()),
         jsonb_build_object('detection_method', 'step_failure')
  FROM tasker.tasks t JOIN tasker.templates tp ON tp.template_uuid = t.template_uuid
  WHERE t.task_uuid = ANY(p_tasks)
  ON CONFLICT (task_uuid) WHERE resolution_status = 'pending' DO NOTHING;
END $$;

-- ---------------------------------------------------------------------------------------------------------
-- The one resolution function: settle steps whose outcome a worker stored. Locks their tasks (in uuid order, so
-- concurrent callers never deadlock), moves each step to complete / waiting_for_retry / error, decrements the
-- pending-parent counters of dependents (O(1) per edge), enqueues steps that became ready, and finalizes tasks
-- that are done. Called by process_step_results (orchestrator, batches of result messages) and by
-- complete_steps when a worker resolves inside its own completion transaction (the fast path).
-- ---------------------------------------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION tasker.resolve_steps(p_steps uuid[], p_processor text)
RETURNS TABLE (steps_enqueued int, tasks_finalized int, next_retry_at timestamptz)
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
    SELECT s.step_uuid,
      CASE
        WHEN s.state = 'enqueued_for_orchestration' AND coalesce((s.results->>'success')::boolean, false) THEN 'complete'
        WHEN NOT s.retryable OR s.attempts >= s.max_attempts
             OR coalesce((s.results->'error'->>'retryable')::boolean, true) = false
             OR s.state = 'enqueued_for_orchestration' THEN 'error'
        ELSE 'retry'
      END AS outcome
    FROM tasker.workflow_steps s
    WHERE s.step_uuid = ANY(v_steps)
      AND s.state IN ('enqueued_for_orchestration', 'enqueued_as_error_for_orchestration')
  )
  SELECT coalesce(array_agg(step_uuid) FILTER (WHERE outcome = 'complete'), '{}'),
         coalesce(array_agg(step_uuid) FILTER (WHERE outcome = 'error'), '{}'),
         coalesce(array_agg(step_uuid) FILTER (WHERE outcome = 'retry'), '{}')
  INTO v_complete, v_error, v_retry
  FROM decided;

  IF cardinality(v_complete) > 0 THEN
    UPDATE tasker.workflow_steps SET state = 'complete', processed_at = now(), updated_at = now()
    WHERE step_uuid = ANY(v_complete);
    PERFORM tasker.log_step_transitions(v_complete, 'complete', 'Complete', p_processor);

    v_children := ARRAY(SELECT DISTINCT e.to_step_uuid FROM tasker.workflow_step_edges e
                        WHERE e.from_step_uuid = ANY(v_complete));
    WITH released AS (
      SELECT e.to_step_uuid, count(*)::int AS n FROM tasker.workflow_step_edges e
      WHERE e.from_step_uuid = ANY(v_complete) GROUP BY e.to_step_uuid
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
  ), per_task AS (
    SELECT s.task_uuid,
           count(*) FILTER (WHERE o.kind = 'complete')::int AS completed,
           count(*) FILTER (WHERE o.kind IN ('complete', 'error', 'retry'))::int AS settled,
           count(*) FILTER (WHERE o.kind = 'enqueue')::int AS enqueued,
           (array_agg(jsonb_build_object('step_uuid', s.step_uuid, 'step_name', s.name, 'error', s.results->'error'))
              FILTER (WHERE o.kind = 'error'))[1] AS first_error
    FROM outcome o JOIN tasker.workflow_steps s ON s.step_uuid = o.step_uuid
    WHERE s.step_uuid = ANY(v_complete || v_error || v_retry || v_enqueue)
    GROUP BY s.task_uuid
  ), updated AS (
    UPDATE tasker.tasks t
    SET steps_remaining = t.steps_remaining - p.completed,
        steps_in_flight = t.steps_in_flight - p.settled + p.enqueued,
        error = coalesce(t.error, p.first_error),
        updated_at = now()
    FROM per_task p WHERE t.task_uuid = ANY(v_tasks) AND t.task_uuid = p.task_uuid
    RETURNING t.task_uuid, t.state, t.steps_remaining, t.steps_in_flight, t.error IS NOT NULL AS failing
  )
  SELECT
    coalesce(array_agg(task_uuid) FILTER (WHERE state = 'steps_in_process' AND steps_remaining = 0), '{}'),
    coalesce(array_agg(task_uuid) FILTER (WHERE state = 'steps_in_process' AND steps_remaining > 0 AND failing AND steps_in_flight = 0), '{}'),
    coalesce(array_agg(task_uuid) FILTER (WHERE state = 'blocked_by_failures' AND steps_in_flight = 0), '{}'),
    coalesce(array_agg(task_uuid) FILTER (WHERE state = 'steps_in_process' AND steps_remaining > 0 AND failing AND steps_in_flight > 0), '{}'),
    coalesce(array_agg(task_uuid) FILTER (WHERE state = 'steps_in_process' AND steps_remaining > 0 AND NOT failing AND steps_in_flight = 0), '{}')
  INTO v_done, v_to_error_running, v_to_error_blocked, v_to_blocked, v_to_wait
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

  RETURN QUERY SELECT cardinality(v_enqueue),
                      cardinality(v_done) + cardinality(v_to_error_running) + cardinality(v_to_error_blocked),
                      v_next;
END $$;

-- ---------------------------------------------------------------------------------------------------------
-- Orchestration: settle a batch of step results in one transaction: take (and so acknowledge) up to p_limit
-- result messages, then resolve their steps. A rollback restores the messages.
-- ---------------------------------------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION tasker.process_step_results(p_limit int, p_processor text)
RETURNS TABLE (results_processed int, steps_enqueued int, tasks_finalized int, next_retry_at timestamptz)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  v_steps uuid[];
  v_n int;
BEGIN
  WITH taken AS (
    DELETE FROM tasker.queue_messages m
    WHERE m.msg_id IN (
      SELECT v.msg_id FROM tasker.queue_messages v
      WHERE v.queue_name = 'orchestration_step_results' AND v.vt <= now()
      ORDER BY v.vt, v.msg_id
      LIMIT p_limit
      FOR UPDATE SKIP LOCKED
    )
    RETURNING (m.message->>'step_uuid')::uuid AS step_uuid
  )
  SELECT array_agg(taken.step_uuid) INTO v_steps FROM taken;
  IF v_steps IS NULL THEN
    RETURN QUERY SELECT 0, 0, 0, NULL::timestamptz;
    RETURN;
  END IF;
  v_n := cardinality(v_steps);
  RETURN QUERY SELECT v_n, r.steps_enqueued, r.tasks_finalized, r.next_retry_at
               FROM tasker.resolve_steps(v_steps, p_processor) r;
END $$;

-- ---------------------------------------------------------------------------------------------------------
-- Orchestration timer: re-enqueue steps whose retry backoff has elapsed. Tasks held by another orchestrator
-- are skipped (they are picked up on the next tick). Returns the earliest future retry time, so the caller can
-- sleep exactly until then.
-- ---------------------------------------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION tasker.enqueue_due_retries(p_limit int, p_processor text)
RETURNS TABLE (steps_enqueued int, next_retry_at timestamptz)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  v_tasks uuid[];
  v_steps uuid[];
  v_waiting uuid[];
BEGIN
  WITH due AS (
    SELECT s.task_uuid FROM tasker.workflow_steps s
    WHERE s.state = 'waiting_for_retry' AND s.next_retry_at <= now()
    ORDER BY s.next_retry_at
    LIMIT p_limit
  ), locked AS (
    SELECT t.task_uuid FROM tasker.tasks t
    WHERE t.task_uuid IN (SELECT due.task_uuid FROM due) AND t.state IN ('steps_in_process', 'waiting_for_retry')
    ORDER BY t.task_uuid
    FOR UPDATE SKIP LOCKED
  )
  SELECT array_agg(locked.task_uuid) INTO v_tasks FROM locked;

  IF v_tasks IS NOT NULL THEN
    WITH moved AS (
      UPDATE tasker.workflow_steps s SET state = 'enqueued', next_retry_at = NULL, updated_at = now()
      WHERE s.task_uuid = ANY(v_tasks) AND s.state = 'waiting_for_retry' AND s.next_retry_at <= now()
      RETURNING s.step_uuid
    )
    SELECT array_agg(moved.step_uuid) INTO v_steps FROM moved;

    PERFORM tasker.log_step_transitions(v_steps, 'pending', 'Retry', p_processor);
    PERFORM tasker.log_step_transitions(v_steps, 'enqueued', 'Enqueue', p_processor);
    PERFORM tasker.send_step_messages(v_steps);

    WITH per_task AS (
      SELECT s.task_uuid, count(*)::int AS n FROM tasker.workflow_steps s WHERE s.step_uuid = ANY(v_steps)
      GROUP BY s.task_uuid
    ), upd AS (
      UPDATE tasker.tasks t SET steps_in_flight = t.steps_in_flight + p.n, updated_at = now()
      FROM per_task p WHERE t.task_uuid = ANY(v_tasks) AND t.task_uuid = p.task_uuid
      RETURNING t.task_uuid, t.state
    )
    SELECT array_agg(upd.task_uuid) FILTER (WHERE upd.state = 'waiting_for_retry') INTO v_waiting FROM upd;

    PERFORM tasker.move_tasks(v_waiting, ARRAY['enqueuing_steps', 'steps_in_process'],
                              ARRAY['RetryReady', 'StepsEnqueued'], p_processor);
    PERFORM tasker.notify_task_events(v_tasks);
  END IF;

  RETURN QUERY
    SELECT coalesce(cardinality(v_steps), 0),
           (SELECT min(s.next_retry_at) FROM tasker.workflow_steps s JOIN tasker.tasks t ON t.task_uuid = s.task_uuid
            WHERE s.state = 'waiting_for_retry' AND t.state IN ('steps_in_process', 'waiting_for_retry'));
END $$;

SELECT tasker.create_queue('orchestration_step_results');

-- Planner settings of the engine's functions. Plans are made once per connection (custom plans would re-plan
-- every call) and must stay index-driven however small or large the tables were when they were made: every
-- statement touches a bounded set of rows by key, so nested loops over index lookups are always the right plan
-- (a merge or hash join would read a whole index or table, and its cost would grow with the database instead of
-- with the batch).
DO $$
DECLARE
  f regprocedure;
BEGIN
  FOR f IN
    SELECT p.oid::regprocedure FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
    WHERE n.nspname = 'tasker' AND p.proname IN ('log_step_transitions', 'log_task_transitions', 'move_tasks',
      'send_step_messages', 'create_task', 'claim_steps', 'complete_steps', 'resolve_steps', 'process_step_results',
      'enqueue_due_retries', 'record_failed_tasks')
  LOOP
    EXECUTE format('ALTER FUNCTION %s SET plan_cache_mode = force_generic_plan', f);
    EXECUTE format('ALTER FUNCTION %s SET enable_seqscan = off', f);
    EXECUTE format('ALTER FUNCTION %s SET enable_mergejoin = off', f);
    EXECUTE format('ALTER FUNCTION %s SET enable_hashjoin = off', f);
  END LOOP;
END $$;
