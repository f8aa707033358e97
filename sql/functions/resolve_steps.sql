-- Step resolution: settles the outcomes of the given steps (complete, retry, fail), applies decisions, expands
-- batches, cascades skips, stops fail_fast batches, releases and enqueues dependents and finalizes tasks.
-- Shared by the orchestrator (process_step_results) and the worker fast path (complete_steps).
CREATE OR REPLACE FUNCTION tasker.resolve_steps(p_steps uuid[], p_processor text)
 RETURNS TABLE(steps_enqueued integer, tasks_finalized integer, next_retry_at timestamp with time zone, finalized jsonb)
 LANGUAGE plpgsql
 SET plan_cache_mode TO 'force_generic_plan'
 SET enable_seqscan TO 'off'
 SET enable_mergejoin TO 'off'
 SET enable_hashjoin TO 'off'
 SET jit TO 'off'
AS $function$
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
  -- templates of the tasks finalized in this call (one entry per task), and their grouping.
  v_done_templates uuid[];
  v_error_templates uuid[];
  v_finalized jsonb := '[]';
  -- dynamic workflows.
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
          -- a batch worker under failure strategy `continue` fails without failing the task.
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

  -- decisions. The outcome names branches (dependents that are not convergence steps); the others are
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

  -- batch expansion. One batch_worker instance per range, between the batchable step and the convergence
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

  -- skipping. Each round skips the pending steps of the frontier and releases their dependents: a
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

  -- fail_fast. A batch that failed for good stops the batches of its batchable step that have not started:
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

    -- tolerated failures release their dependents like completions.
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
    -- tolerated failures count as done; skipped steps are done and were never in flight.
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
    RETURNING t.task_uuid, t.template_uuid, t.state, t.steps_remaining, t.steps_in_flight, t.error IS NOT NULL AS failing
  )
  SELECT
    coalesce(array_agg(task_uuid) FILTER (WHERE state = 'steps_in_process' AND steps_remaining = 0), '{}'),
    coalesce(array_agg(task_uuid) FILTER (WHERE state = 'steps_in_process' AND steps_remaining > 0 AND failing AND steps_in_flight = 0), '{}'),
    coalesce(array_agg(task_uuid) FILTER (WHERE state = 'blocked_by_failures' AND steps_in_flight = 0), '{}'),
    coalesce(array_agg(task_uuid) FILTER (WHERE state = 'steps_in_process' AND steps_remaining > 0 AND failing AND steps_in_flight > 0), '{}'),
    coalesce(array_agg(task_uuid) FILTER (WHERE state = 'steps_in_process' AND steps_remaining > 0 AND NOT failing AND steps_in_flight = 0), '{}'),
    -- the same filters as v_done and v_to_error_running || v_to_error_blocked, collecting templates.
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

  -- finalized tasks by (namespace, template name, final state); versions of one template are summed.
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
END $function$;
