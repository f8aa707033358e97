-- Appends one audit row per step (most_recent protocol). The insert is driven by the rows the demoting UPDATE
-- returns, so a step's old row is always demoted before its new row is inserted. With p_via, two rows per step
-- in the same statement: the step passed through state p_via (event p_via_event) on its way to p_to, as when a
-- worker's completion settles its own result or a step is claimed in the transaction that enqueued it.
CREATE OR REPLACE FUNCTION tasker.log_step_transitions(p_steps uuid[], p_to text, p_event text, p_processor text,
  p_metadata jsonb DEFAULT NULL::jsonb, p_via text DEFAULT NULL, p_via_event text DEFAULT NULL)
 RETURNS void
 LANGUAGE plpgsql
 SET plan_cache_mode TO 'force_generic_plan'
 SET enable_seqscan TO 'off'
 SET enable_mergejoin TO 'off'
 SET enable_hashjoin TO 'off'
 SET jit TO 'off'
AS $function$
BEGIN
  IF p_steps IS NULL OR cardinality(p_steps) = 0 THEN RETURN; END IF;
  WITH demoted AS (
    UPDATE tasker.workflow_step_transitions t SET most_recent = false
    WHERE t.step_uuid = ANY(p_steps) AND t.most_recent
    RETURNING t.step_uuid, t.to_state, t.sort_key
  )
  INSERT INTO tasker.workflow_step_transitions (step_uuid, from_state, to_state, event, sort_key, most_recent, metadata, processor)
  SELECT d.step_uuid, d.to_state, p_via, p_via_event, d.sort_key + 1, false, NULL, p_processor
  FROM demoted d WHERE p_via IS NOT NULL
  UNION ALL
  SELECT d.step_uuid, coalesce(p_via, d.to_state), p_to, p_event,
         d.sort_key + CASE WHEN p_via IS NULL THEN 1 ELSE 2 END, true, p_metadata, p_processor
  FROM demoted d;
END $function$;
