-- Part of resolve_steps: applies completed decision steps. The outcome names branches (dependents that are not
-- convergence steps); the others are returned as seeds for resolve_cascade_skips. An outcome that is missing,
-- malformed or names a step that is not a branch fails the decision step (INVALID_DECISION, with the reason, in
-- its results): it is returned in `invalid`, and so fails the task; it never completes without its branches.
CREATE OR REPLACE FUNCTION tasker.resolve_apply_decisions(p_decisions uuid[], OUT invalid uuid[], OUT skip_seeds uuid[])
 LANGUAGE plpgsql
 SET plan_cache_mode TO 'force_generic_plan'
 SET enable_seqscan TO 'off'
 SET enable_mergejoin TO 'off'
 SET enable_hashjoin TO 'off'
 SET jit TO 'off'
AS $function$
DECLARE
  v_step record;
  v_reason text;
  v_chosen text[];
  v_branches text[];
  v_unknown text[];
  v_outcome jsonb;
BEGIN
  invalid := '{}';
  skip_seeds := '{}';
  IF p_decisions IS NULL OR cardinality(p_decisions) = 0 THEN RETURN; END IF;
  FOR v_step IN SELECT s.step_uuid, s.name, s.results FROM tasker.workflow_steps s WHERE s.step_uuid = ANY(p_decisions)
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
      invalid := invalid || v_step.step_uuid;
      UPDATE tasker.workflow_steps s
      SET results = jsonb_build_object('success', false, 'result', s.results->'result',
            'error', jsonb_build_object('name', 'InvalidDecision', 'code', 'INVALID_DECISION', 'message', v_reason,
                                        'retryable', false),
            'metadata', s.results->'metadata')
      WHERE s.step_uuid = v_step.step_uuid;
    ELSE
      skip_seeds := skip_seeds || ARRAY(
        SELECT c.step_uuid FROM tasker.workflow_step_edges e JOIN tasker.workflow_steps c ON c.step_uuid = e.to_step_uuid
        WHERE e.from_step_uuid = v_step.step_uuid AND c.step_type <> 'deferred_convergence'
          AND NOT (c.name = ANY(v_chosen)));
    END IF;
  END LOOP;
END $function$;
