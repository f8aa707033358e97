-- Part of resolve_steps: expands completed batchable steps. Their batch_worker blueprint is instantiated once per
-- range (`<blueprint>_000`, ..., with the range in inputs.__batch) between the batchable step and the convergence
-- step(s) waiting for the blueprint, in batch order; the batchable step's stand-in edge to those is released like
-- any other edge, so zero batches let the convergence step run at once. A malformed outcome or too many batches
-- fails the batchable step (INVALID_BATCH_OUTCOME, with the reason): it is returned in `invalid`.
CREATE OR REPLACE FUNCTION tasker.resolve_expand_batches(p_batchables uuid[], p_processor text, OUT invalid uuid[])
 LANGUAGE plpgsql
 SET plan_cache_mode TO 'force_generic_plan'
 SET enable_seqscan TO 'off'
 SET enable_mergejoin TO 'off'
 SET enable_hashjoin TO 'off'
 SET jit TO 'off'
AS $function$
DECLARE
  v_step record;
  v_bp record;
  v_reason text;
  v_ranges jsonb;
  v_n bigint;
  v_total_items bigint;
  v_new uuid[];
  v_conv uuid[];
BEGIN
  invalid := '{}';
  IF p_batchables IS NULL OR cardinality(p_batchables) = 0 THEN RETURN; END IF;
  FOR v_step IN
    SELECT s.step_uuid, s.task_uuid, s.name, s.results, t.template_uuid
    FROM tasker.workflow_steps s JOIN tasker.tasks t ON t.task_uuid = s.task_uuid
    WHERE s.step_uuid = ANY(p_batchables)
  LOOP
    SELECT ts.name, ts.handler, ts.max_attempts, ts.retryable, ts.retry_policy, ts.timeout_ms, ts.inputs,
           ts.batch_config
    INTO v_bp
    FROM tasker.template_steps ts
    WHERE ts.template_uuid = v_step.template_uuid AND ts.step_type = 'batch_worker' AND v_step.name = ANY(ts.depends_on);
    SELECT r.ranges, r.total_items, r.reason INTO v_ranges, v_total_items, v_reason
    FROM tasker.batch_ranges(v_step.results->'result'->'batch_processing_outcome', v_step.name, v_bp.name,
                             v_bp.batch_config) r;
    v_n := coalesce(jsonb_array_length(v_ranges), 0);

    IF v_reason IS NOT NULL THEN
      invalid := invalid || v_step.step_uuid;
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

    INSERT INTO tasker.workflow_step_transitions (step_uuid, from_state, to_state, event, sort_key, metadata,
                                                  processor)
    SELECT u, NULL, 'pending', 'Create', 1, jsonb_build_object('batch_of', v_step.name), p_processor
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
END $function$;
