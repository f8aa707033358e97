-- Part of resolve_steps: skips the steps a decision did not choose, and everything below them. Each round skips
-- the pending steps of the frontier and releases their dependents: a deferred convergence step counts a skipped
-- parent as settled (and is skipped itself once every parent was; with some parent that ran it becomes ready, in
-- `convergence_ready`); any other dependent is skipped in the next round. A skipped step was never in flight.
CREATE OR REPLACE FUNCTION tasker.resolve_cascade_skips(p_seeds uuid[], p_processor text,
  OUT skipped uuid[], OUT convergence_ready uuid[])
 LANGUAGE plpgsql
 SET plan_cache_mode TO 'force_generic_plan'
 SET enable_seqscan TO 'off'
 SET enable_mergejoin TO 'off'
 SET enable_hashjoin TO 'off'
 SET jit TO 'off'
AS $function$
DECLARE
  v_frontier uuid[];
  v_now uuid[];
BEGIN
  skipped := '{}';
  convergence_ready := '{}';
  v_frontier := coalesce(p_seeds, '{}');
  WHILE cardinality(v_frontier) > 0 LOOP
    WITH sk AS (
      UPDATE tasker.workflow_steps s SET state = 'skipped', updated_at = now()
      WHERE s.step_uuid = ANY(v_frontier) AND s.state = 'pending'
      RETURNING s.step_uuid
    )
    SELECT coalesce(array_agg(sk.step_uuid), '{}') INTO v_now FROM sk;
    EXIT WHEN cardinality(v_now) = 0;
    PERFORM tasker.log_step_transitions(v_now, 'skipped', 'Skip', p_processor);
    skipped := skipped || v_now;
    WITH released AS (
      SELECT e.to_step_uuid, count(*)::int AS n FROM tasker.workflow_step_edges e
      WHERE e.from_step_uuid = ANY(v_now) GROUP BY e.to_step_uuid
    ), counts AS (
      -- read per step row: a join with `released` would be a nested loop over both sets (ADR 0004)
      SELECT jsonb_object_agg(r.to_step_uuid::text, r.n) AS m FROM released r
    ), conv AS (
      UPDATE tasker.workflow_steps c
      SET pending_parents = c.pending_parents - (k.m->>(c.step_uuid::text))::int,
          skipped_parents = c.skipped_parents + (k.m->>(c.step_uuid::text))::int
      FROM counts k
      WHERE c.step_uuid = ANY(ARRAY(SELECT r2.to_step_uuid FROM released r2))
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
           convergence_ready || coalesce((SELECT array_agg(st.step_uuid) FROM settled st WHERE NOT st.all_skipped), '{}')
    INTO v_frontier, convergence_ready
    FROM released r
    CROSS JOIN LATERAL (SELECT c.step_type FROM tasker.workflow_steps c WHERE c.step_uuid = r.to_step_uuid OFFSET 0) c;
  END LOOP;
END $function$;
