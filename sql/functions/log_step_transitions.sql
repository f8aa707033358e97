-- Appends one audit row per step, every step along the same path: to p_to by p_event,
-- passing through state p_via (event p_via_event) first when given, as when a worker's completion settles its own
-- result or a step is claimed in the transaction that enqueued it. The rows are written by log_step_paths.
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
DECLARE
  v_n int := cardinality(p_steps);
BEGIN
  IF p_steps IS NULL OR v_n = 0 THEN RETURN; END IF;
  PERFORM tasker.log_step_paths(p_steps, array_fill(p_to, ARRAY[v_n]), array_fill(p_event, ARRAY[v_n]),
                                array_fill(p_via, ARRAY[v_n]), array_fill(p_via_event, ARRAY[v_n]), p_processor,
                                p_metadata);
END $function$;
