-- Part of complete_steps (ADR 0011): a worker that ran a chain of steps locally sends, with the results of the
-- steps it had claimed, the outcomes of their dependents it started without a claim (`"chained": true`, the
-- step's derived uuid, attempt 1, the handler it ran). Such a step is started here, as claim_steps would start
-- it (in_progress, attempt 1, audited Enqueue then Start by the worker, counted in flight; on the settle path
-- settle_successes starts and completes it in one row update and writes those audit rows with the completion's:
-- this function only picks the steps then), when all of this
-- holds under the task locks complete_steps took (p_tasks): its task is running, it is a pending standard step
-- never attempted, its handler is the one the worker ran, and every parent is complete or completes in this same
-- call (a claimed success whose attempt still holds its step, or a chained success started here). The rest of
-- complete_steps then records and resolves it with the others; a chained result not started is refused like a
-- stale attempt, and its step is released the usual way. p_settle: the batch goes to settle_successes, which
-- does not release a step completing in the same call, so a started step waits for no parent any more; on the
-- general path resolve_steps releases it from its parents in the batch like any dependent. Returns the steps
-- started.
CREATE OR REPLACE FUNCTION tasker.start_chained_steps(p_results jsonb, p_tasks uuid[], p_worker text,
  p_settle boolean)
 RETURNS uuid[]
 LANGUAGE plpgsql
 SET plan_cache_mode TO 'force_generic_plan'
 SET enable_seqscan TO 'off'
 SET enable_mergejoin TO 'off'
 SET enable_hashjoin TO 'off'
 SET jit TO 'off'
AS $function$
#variable_conflict use_column
DECLARE
  v_chained uuid[];
  v_completing uuid[];
  -- the chained results by step uuid, and the claimed successes' 'step_uuid:attempt' keys: looked up per step
  -- row, so no statement joins the batch with the steps (quadratic with hash joins off, ADR 0004)
  v_chained_map jsonb;
  v_claimed_keys jsonb;
  v_ok uuid[];
  v_unready uuid[];
  v_started uuid[];
  n int;
BEGIN
  SELECT coalesce(array_agg((x->>'step_uuid')::uuid) FILTER (WHERE (x->>'chained')::boolean), '{}'),
         coalesce(array_agg((x->>'step_uuid')::uuid) FILTER (WHERE NOT coalesce((x->>'chained')::boolean, false)
                                                                AND coalesce((x->>'success')::boolean, false)), '{}'),
         coalesce(jsonb_object_agg(((x->>'step_uuid')::uuid)::text, x) FILTER (WHERE (x->>'chained')::boolean),
                  '{}'),
         coalesce(jsonb_object_agg(((x->>'step_uuid')::uuid)::text || ':' || ((x->>'attempt')::int)::text, true)
                    FILTER (WHERE NOT coalesce((x->>'chained')::boolean, false)
                              AND coalesce((x->>'success')::boolean, false)), '{}')
  INTO v_chained, v_completing, v_chained_map, v_claimed_keys
  FROM jsonb_array_elements(p_results) x;
  -- the claimed successes that will be applied: their attempt still holds the step
  SELECT coalesce(array_agg(s.step_uuid), '{}') INTO v_completing
  FROM tasker.workflow_steps s
  WHERE s.step_uuid = ANY(v_completing) AND s.state = 'in_progress'
    AND v_claimed_keys ? (s.step_uuid::text || ':' || s.attempts);
  -- The chained results that pass every check of their own; then, while one of them has a parent that is
  -- neither complete, nor completing in this call, nor a chained success kept so far, it is dropped. Candidates
  -- cannot vouch for each other in a cycle (a DAG has none), so what remains is what starting them link by link
  -- from the completing steps would start; a batch whose chains all hold (the usual case) takes one check.
  SELECT coalesce(array_agg(c.step_uuid), '{}'),
         coalesce(array_agg(c.step_uuid)
                    FILTER (WHERE coalesce((v_chained_map->(c.step_uuid::text)->>'success')::boolean, false)), '{}')
  INTO v_started, v_ok
  FROM tasker.workflow_steps c
  -- the task by key (OFFSET 0 keeps it a lookup, not a scan of every running task)
  CROSS JOIN LATERAL (SELECT t.state FROM tasker.tasks t WHERE t.task_uuid = c.task_uuid OFFSET 0) t
  WHERE c.step_uuid = ANY(v_chained)
    AND (v_chained_map->(c.step_uuid::text)->>'attempt')::int = 1
    AND c.handler = v_chained_map->(c.step_uuid::text)->>'handler'
    AND c.state = 'pending' AND c.attempts = 0 AND c.step_type = 'standard'
    AND c.task_uuid = ANY(p_tasks) AND t.state = 'steps_in_process';
  LOOP
    EXIT WHEN cardinality(v_started) = 0;
    SELECT coalesce(array_agg(DISTINCT e.to_step_uuid), '{}') INTO v_unready
    FROM tasker.workflow_step_edges e JOIN tasker.workflow_steps p ON p.step_uuid = e.from_step_uuid
    WHERE e.to_step_uuid = ANY(v_started) AND p.state <> 'complete'
      AND NOT p.step_uuid = ANY(v_completing) AND NOT p.step_uuid = ANY(v_ok);
    EXIT WHEN cardinality(v_unready) = 0;
    v_started := ARRAY(SELECT u FROM unnest(v_started) AS u WHERE NOT u = ANY(v_unready));
    v_ok := ARRAY(SELECT u FROM unnest(v_ok) AS u WHERE NOT u = ANY(v_unready));
  END LOOP;
  n := cardinality(v_started);
  IF n = 0 OR p_settle THEN RETURN v_started; END IF;

  WITH started AS (
    UPDATE tasker.workflow_steps s
    SET state = 'in_progress', attempts = 1, last_attempted_at = now(), updated_at = now()
    WHERE s.step_uuid = ANY(v_started)
    RETURNING s.task_uuid
  ), per_task AS (
    SELECT st.task_uuid, count(*)::int AS n FROM started st GROUP BY st.task_uuid
  )
  UPDATE tasker.tasks t SET steps_in_flight = t.steps_in_flight + p.n
  FROM per_task p WHERE t.task_uuid = ANY(p_tasks) AND t.task_uuid = p.task_uuid;
  PERFORM tasker.log_step_paths(v_started, array_fill('in_progress'::text, ARRAY[n]),
                                array_fill('Start'::text, ARRAY[n]), array_fill('enqueued'::text, ARRAY[n]),
                                array_fill('Enqueue'::text, ARRAY[n]), p_worker);
  RETURN v_started;
END $function$;
