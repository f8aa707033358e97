-- Task creation in one transaction: the task, its steps (batch_worker blueprints excluded: their instances are
-- created per batch) and edges, in time linear in steps + edges, then the root steps enqueued.
-- A process that runs a worker for the namespace may claim root steps in this same transaction
-- (p_options.claim = {queues, limit, lease_seconds, worker}): they start in_progress under a lease, their
-- execution contexts come back in `claimed`, and nobody is notified of them (ADR 0009).
CREATE OR REPLACE FUNCTION tasker.create_task(p_namespace text, p_name text, p_version text, p_context jsonb, p_options jsonb, p_processor text, p_with_view boolean DEFAULT false)
 RETURNS TABLE(task_uuid uuid, state text, steps_enqueued integer, correlation_id uuid, template_version text, duplicate text, view jsonb, claimed jsonb)
 LANGUAGE plpgsql
 SET plan_cache_mode TO 'force_generic_plan'
 SET enable_seqscan TO 'off'
 SET enable_mergejoin TO 'off'
 SET enable_hashjoin TO 'off'
 SET jit TO 'off'
AS $function$
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
  -- the task's W3C trace context, kept only when well-formed (a malformed value is dropped, as the W3C
  -- recommendation says, rather than failing the task).
  v_traceparent text := CASE WHEN p_options->>'traceparent' ~ '^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$'
                             THEN p_options->>'traceparent' END;
  v_tracestate text := CASE WHEN v_traceparent IS NOT NULL AND char_length(p_options->>'tracestate') <= 512
                            THEN nullif(p_options->>'tracestate', '') END;
  v_trace jsonb := CASE WHEN v_traceparent IS NOT NULL
                        THEN jsonb_strip_nulls(jsonb_build_object('traceparent', v_traceparent, 'tracestate', v_tracestate))
                   END;
  -- the task's priority and the head start of its step messages (raises TK422 when out of range).
  v_priority int;
  v_head_start bigint;
  -- the uuid of each step of the task by step name, and the same plus, for each batch_worker blueprint, the
  -- uuid of the batchable step that stands in for it (the parent of an edge that names the blueprint).
  v_step_uuids jsonb;
  v_claim jsonb := p_options->'claim';
  v_root_steps uuid[];
  v_claimed_steps uuid[];
  v_take int := 0;
  v_claimed jsonb;
BEGIN
  IF p_context IS NULL OR jsonb_typeof(p_context) <> 'object' THEN
    RAISE EXCEPTION 'task context must be a JSON object' USING ERRCODE = 'TK422';
  END IF;
  SELECT p.priority, p.head_start_ms INTO v_priority, v_head_start FROM tasker.task_priority(p_options) p;
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

  -- batch_worker blueprints are not steps of the task (their instances are created per batch).
  -- the same pass gives each step its uuid, so that edges are later resolved by key lookups in this map
  -- instead of by a join the planner may turn into a cross product.
  SELECT count(*), count(*) FILTER (WHERE cardinality(s.depends_on) = 0),
         coalesce(jsonb_object_agg(s.name, s.step_uuid), '{}'::jsonb)
  INTO v_total, v_roots, v_step_uuids
  FROM (SELECT ts.name, ts.depends_on, tasker.step_uuid_for(v_task, ts.name) AS step_uuid FROM tasker.template_steps ts
        WHERE ts.template_uuid = v_template_uuid AND ts.step_type <> 'batch_worker'
        ORDER BY ts.position) s;

  -- priority from task_priority, and priority_head_start_ms.
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
                        CASE WHEN p_with_view THEN tasker.get_task_view(v_existing.task_uuid) END, NULL::jsonb;
    RETURN;
  END IF;

  INSERT INTO tasker.task_transitions (task_uuid, from_state, to_state, event, sort_key, processor)
  VALUES (v_task, NULL, 'pending', 'Create', 1, p_processor),
         (v_task, 'pending', 'initializing', 'Start', 2, p_processor),
         (v_task, 'initializing', 'enqueuing_steps', 'ReadyStepsFound', 3, p_processor),
         (v_task, 'enqueuing_steps', 'steps_in_process', 'StepsEnqueued', 4, p_processor);

  IF v_claim IS NOT NULL AND v_claim->'queues' ? tasker.worker_queue_name(v_ns) THEN
    v_take := greatest(coalesce((v_claim->>'limit')::int, 0), 0);
  END IF;
  -- Root steps claimed for the local worker come back flagged; they are claimed in the statement that creates them.
  SELECT array_agg(r.step_uuid), array_agg(r.step_uuid) FILTER (WHERE r.claimed),
         jsonb_agg(r.claim || jsonb_build_object('context', p_context, 'namespace', v_ns, 'template_name', p_name,
                                                 'template_version', v_version, 'correlation_id', v_corr))
           FILTER (WHERE r.claimed)
  INTO v_root_steps, v_claimed_steps, v_claimed
  FROM tasker.create_task_steps(v_task, v_template_uuid, v_step_uuids, v_ns, v_corr, v_trace, v_head_start,
                                p_processor, v_take, v_claim->>'worker',
                                coalesce((v_claim->>'lease_seconds')::float8, 0)) r;
  v_take := coalesce(cardinality(v_claimed_steps), 0);
  IF v_take < coalesce(cardinality(v_root_steps), 0) THEN
    PERFORM pg_notify(tasker.queue_channel(tasker.worker_queue_name(v_ns)), '');
  END IF;
  -- No tasker_task_events notification: its listeners watch tasks they know, and nobody knows this one yet. A
  -- notification would only wake every listening backend of the database at this commit.
  -- The API answers with the whole task: reading it here saves the caller a round trip.
  RETURN QUERY SELECT v_task, 'steps_in_process'::text, v_roots, v_corr, v_version, 'none'::text,
                      CASE WHEN p_with_view THEN tasker.get_task_view(v_task) END, v_claimed;
END $function$;
