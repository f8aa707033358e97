-- Appends each step's audit rows, each step with its own path: p_steps and the other arrays are parallel. Step i
-- moves to p_to[i] by event p_event[i]; when p_via[i] is not NULL it passes through p_via[i] (event
-- p_via_event[i]) first, two rows in the same statement. A step in p_started (a chained step started in this same
-- transaction, ADR 0011) goes from pending through `enqueued` (Enqueue) and `in_progress` (Start) first. Each path
-- continues from the step's last row, found by the primary key (nothing is demoted, ADR 0013); the caller has
-- updated the step in this transaction, so that row is current, and two writers appending at once would collide
-- on the key instead of forking the trail. p_metadata goes on every final row. One statement for a whole
-- completion: finished steps, the chained steps started with them, and the dependents it enqueued or claimed.
CREATE OR REPLACE FUNCTION tasker.log_step_paths(p_steps uuid[], p_to text[], p_event text[], p_via text[],
  p_via_event text[], p_processor text, p_metadata jsonb DEFAULT NULL::jsonb, p_started uuid[] DEFAULT NULL::uuid[])
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
  WITH path AS (
    -- a step listed twice gets one path (its first), as when each path began by demoting the step's current row
    SELECT DISTINCT ON (p.step_uuid) p.step_uuid, p.to_state, p.event, p.via, p.via_event
    FROM unnest(p_steps, p_to, p_event, p_via, p_via_event)
         WITH ORDINALITY AS p(step_uuid, to_state, event, via, via_event, o)
    ORDER BY p.step_uuid, p.o
  ), last AS (
    SELECT l.step_uuid, l.sort_key, p.to_state, p.event, p.via, p.via_event,
           coalesce(l.step_uuid = ANY(p_started), false) AS started,
           CASE WHEN l.step_uuid = ANY(p_started) THEN 'in_progress' ELSE l.to_state END AS from_state,
           CASE WHEN l.step_uuid = ANY(p_started) THEN 2 ELSE 0 END AS shift
    FROM path p CROSS JOIN LATERAL (
      SELECT t.step_uuid, t.sort_key, t.to_state FROM tasker.workflow_step_transitions t
      WHERE t.step_uuid = p.step_uuid ORDER BY t.sort_key DESC LIMIT 1) l
  )
  INSERT INTO tasker.workflow_step_transitions (step_uuid, from_state, to_state, event, sort_key, metadata, processor)
  SELECT d.step_uuid, 'pending', 'enqueued', 'Enqueue', d.sort_key + 1, NULL::jsonb, p_processor
  FROM last d WHERE d.started
  UNION ALL
  SELECT d.step_uuid, 'enqueued', 'in_progress', 'Start', d.sort_key + 2, NULL::jsonb, p_processor
  FROM last d WHERE d.started
  UNION ALL
  SELECT d.step_uuid, d.from_state, d.via, d.via_event, d.sort_key + d.shift + 1, NULL, p_processor
  FROM last d WHERE d.via IS NOT NULL
  UNION ALL
  SELECT d.step_uuid, coalesce(d.via, d.from_state), d.to_state, d.event,
         d.sort_key + d.shift + CASE WHEN d.via IS NULL THEN 1 ELSE 2 END, p_metadata, p_processor
  FROM last d;
END $function$;
