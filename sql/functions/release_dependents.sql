-- Part of step resolution: the dependents of the given finished steps (completed, or failed but tolerated) have
-- one parent fewer to wait for (O(1) per edge through pending_parents). Returns those that became ready: no
-- parent left to wait for and still pending.
CREATE OR REPLACE FUNCTION tasker.release_dependents(p_finished uuid[])
 RETURNS uuid[]
 LANGUAGE plpgsql
 SET plan_cache_mode TO 'force_generic_plan'
 SET enable_seqscan TO 'off'
 SET enable_mergejoin TO 'off'
 SET enable_hashjoin TO 'off'
 SET jit TO 'off'
AS $function$
DECLARE
  v_ready uuid[];
BEGIN
  IF cardinality(p_finished) = 0 THEN RETURN '{}'; END IF;
  WITH released AS (
    SELECT e.to_step_uuid, count(*)::int AS n FROM tasker.workflow_step_edges e
    WHERE e.from_step_uuid = ANY(p_finished) GROUP BY e.to_step_uuid
  ), counts AS (
    -- dependent -> parents finished now, read per dependent row (a join with `released` would be a nested
    -- loop over both sets, ADR 0004)
    SELECT jsonb_object_agg(r.to_step_uuid::text, r.n) AS m FROM released r
  ), decremented AS (
    UPDATE tasker.workflow_steps c SET pending_parents = c.pending_parents - (k.m->>(c.step_uuid::text))::int
    FROM counts k
    WHERE c.step_uuid = ANY(ARRAY(SELECT r.to_step_uuid FROM released r))
    RETURNING c.step_uuid, c.pending_parents, c.state
  )
  SELECT coalesce(array_agg(d.step_uuid) FILTER (WHERE d.pending_parents = 0 AND d.state = 'pending'), '{}')
  INTO v_ready FROM decremented d;
  RETURN v_ready;
END $function$;
