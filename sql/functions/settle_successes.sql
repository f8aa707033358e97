-- The common case of complete_steps on the worker path (ADR 0010): every result a success of a step that neither
-- decides nor batches, in tasks the caller (complete_steps) has locked (p_tasks). Such a result can only complete
-- its step, so one statement does what resolve_steps' parts do for successes: the steps go straight to
-- `complete` and their messages are acknowledged; their dependents are released (pending_parents), and those now
-- ready in tasks still running are claimed for the caller (the first p_claim_limit on its queues p_claim_queues,
-- by priority, task, step name: in_progress, a new attempt) or enqueued; the tasks' counters move. Then one audit
-- statement for all of them (the results passing through `enqueued_for_orchestration`, claimed steps through
-- `enqueued`), one message statement (claimed ones leased for p_lease_seconds), and, only for tasks whose
-- counters say so, finalization. A task whose last steps complete here is completed by the counter update itself
-- (one row version instead of two; finalize_tasks would move it the same way, with the same audit, notification
-- and `finalized` entry). Same arguments and rows as complete_steps; p_ids are the step uuids of p_results;
-- p_started: the chained steps start_chained_steps picked for this call, still pending: each is started and
-- completed here by one row update, and its audit path from pending is written with the rest.
-- p_running: chained steps the caller is running now whose outcome is not in p_results. One released here is
-- claimed for the caller whatever p_claim_limit (it holds a slot already), so its run is not wasted: the caller's
-- outcome for it is then written as the claimed attempt's.
-- test/sql/settle_successes/ checks it leaves what the general path leaves.
CREATE OR REPLACE FUNCTION tasker.settle_successes(p_results jsonb, p_ids uuid[], p_tasks uuid[], p_worker text,
  p_claim_queues text[], p_claim_limit integer, p_lease_seconds double precision, p_started uuid[] DEFAULT '{}',
  p_running uuid[] DEFAULT '{}')
 RETURNS TABLE(step_uuid uuid, attempt integer, applied boolean, finalized jsonb, claimed jsonb)
 LANGUAGE plpgsql
 SET plan_cache_mode TO 'force_generic_plan'
 SET enable_seqscan TO 'off'
 SET enable_mergejoin TO 'off'
 SET enable_hashjoin TO 'off'
 SET jit TO 'off'
AS $function$
#variable_conflict use_column
DECLARE
  v_done uuid[];
  -- 'step_uuid:attempt' of every applied input: one batch may hold a stale attempt and its replacement.
  v_applied text[];
  v_claim uuid[];
  v_rest uuid[];
  v_moving uuid[];
  v_completed uuid[];
  v_completed_templates uuid[];
  v_claimed_steps uuid[];
  v_claimed_msgs bigint[];
  v_finalized jsonb;
  v_claimed jsonb;
  n_done int;
  n_claim int;
  n_rest int;
BEGIN
  -- A set of rows meets a table only as the outer side of a lookup by key, and two sets only through a one-row
  -- jsonb map: with hash joins off (ADR 0004) any other join is a nested loop over both sets, quadratic in the
  -- batch (the 200-step fan-out's first completion spent 11 of its 18 ms that way). The lookups below have no
  -- condition on the table but the key, so the planner keeps the set outside even for a plan made on a young
  -- table (checked on a 4-step one); a jsonb map for the input and the tasks cost 20 % of W3's throughput.
  WITH input AS (
    SELECT (x->>'step_uuid')::uuid AS step_uuid, (x->>'msg_id')::bigint AS msg_id, (x->>'attempt')::int AS attempt,
           x->'results' AS results
    FROM jsonb_array_elements(p_results) x
  ), done AS (
    -- A chained step (p_started) is started and completed by this one update: attempt 1, waiting for no parent.
    -- Each input row finds its step by key (the join is the only condition on s, so s is the inner side).
    UPDATE tasker.workflow_steps s
    SET state = 'complete', results = i.results, processed_at = now(), updated_at = now(),
        attempts = CASE WHEN s.step_uuid = ANY(p_started) THEN 1 ELSE s.attempts END,
        last_attempted_at = CASE WHEN s.step_uuid = ANY(p_started) THEN now() ELSE s.last_attempted_at END,
        pending_parents = CASE WHEN s.step_uuid = ANY(p_started) THEN 0 ELSE s.pending_parents END
    FROM input i
    WHERE s.step_uuid = i.step_uuid
      AND CASE WHEN s.step_uuid = ANY(p_started) THEN s.state = 'pending' AND s.attempts = 0 AND i.attempt = 1
               ELSE s.state = 'in_progress' AND s.attempts = i.attempt END
    RETURNING s.step_uuid, s.task_uuid, i.msg_id, i.attempt, s.step_uuid = ANY(p_started) AS started
  ), acked AS (
    DELETE FROM tasker.queue_messages m WHERE m.msg_id = ANY(ARRAY(SELECT d.msg_id FROM done d))
  ), released AS (
    SELECT e.to_step_uuid AS step_uuid, count(*)::int AS n FROM tasker.workflow_step_edges e
    WHERE e.from_step_uuid = ANY(ARRAY(SELECT d.step_uuid FROM done d))
      -- a chained step (start_chained_steps) completes with its parents: nothing to release
      AND NOT e.to_step_uuid = ANY(ARRAY(SELECT d.step_uuid FROM done d))
    GROUP BY e.to_step_uuid
  ), rel AS (
    -- each released step, looked up by key (OFFSET 0 keeps each lookup a lookup), and whether every parent it
    -- waited for finished (the statement sees pending_parents before its own decrement) in a task still running
    SELECT r.step_uuid, r.n, c.task_uuid, c.name, t.priority,
           c.pending_parents = r.n AND c.state = 'pending' AND t.task_uuid = ANY(p_tasks)
             AND t.state = 'steps_in_process' AS ready,
           coalesce(tasker.worker_queue_name(t.namespace) = ANY(p_claim_queues), false) AS mine,
           coalesce(r.step_uuid = ANY(p_running), false) AS running
    FROM released r
    CROSS JOIN LATERAL (SELECT c.task_uuid, c.name, c.pending_parents, c.state FROM tasker.workflow_steps c
                        WHERE c.step_uuid = r.step_uuid OFFSET 0) c
    CROSS JOIN LATERAL (SELECT t.task_uuid, t.namespace, t.priority, t.state FROM tasker.tasks t
                        WHERE t.task_uuid = c.task_uuid OFFSET 0) t
  ), ranked AS (
    SELECT rl.step_uuid, rl.task_uuid, rl.n, rl.ready,
           rl.ready AND rl.mine AND (rl.running OR row_number() OVER (PARTITION BY rl.ready, rl.mine, rl.running
                                                                  ORDER BY rl.priority DESC, rl.task_uuid, rl.name)
                                                    <= p_claim_limit) AS claim
    FROM rel rl
  ), split AS (
    SELECT rk.step_uuid, rk.task_uuid, rk.claim FROM ranked rk WHERE rk.ready
  ), moves AS (
    -- released step -> [parents finished now, its new state or null]
    SELECT jsonb_object_agg(rk.step_uuid::text, jsonb_build_array(rk.n,
             CASE WHEN NOT rk.ready THEN NULL WHEN rk.claim THEN 'in_progress' ELSE 'enqueued' END)) AS m
    FROM ranked rk
  ), children AS (
    UPDATE tasker.workflow_steps c
    SET pending_parents = c.pending_parents - (mv.m->(c.step_uuid::text)->>0)::int,
        state = coalesce(mv.m->(c.step_uuid::text)->>1, c.state),
        attempts = c.attempts + CASE WHEN mv.m->(c.step_uuid::text)->>1 = 'in_progress' THEN 1 ELSE 0 END,
        last_attempted_at = CASE WHEN mv.m->(c.step_uuid::text)->>1 = 'in_progress' THEN now()
                                 ELSE c.last_attempted_at END,
        updated_at = CASE WHEN mv.m->(c.step_uuid::text)->>1 IS NULL THEN c.updated_at ELSE now() END
    FROM moves mv
    WHERE c.step_uuid = ANY(ARRAY(SELECT r.step_uuid FROM released r))
  ), per_task AS (
    SELECT u.task_uuid, count(*) FILTER (WHERE u.done)::int AS completed,
           count(*) FILTER (WHERE u.started)::int AS started, count(*) FILTER (WHERE NOT u.done)::int AS enqueued
    FROM (SELECT d.task_uuid, true AS done, d.started FROM done d
          UNION ALL SELECT sp.task_uuid, false, false FROM split sp) u
    GROUP BY u.task_uuid
  ), counted AS (
    UPDATE tasker.tasks t
    SET steps_remaining = t.steps_remaining - p.completed,
        -- chained steps were never counted in flight: they start and finish here
        steps_in_flight = t.steps_in_flight - (p.completed - p.started) + p.enqueued,
        state = CASE WHEN t.state = 'steps_in_process' AND t.steps_remaining = p.completed THEN 'complete'
                     ELSE t.state END,
        completed_at = CASE WHEN t.state = 'steps_in_process' AND t.steps_remaining = p.completed THEN now()
                            ELSE t.completed_at END,
        updated_at = now()
    -- each task found by key from its per_task row (no condition on t but the join: t is the inner side)
    FROM per_task p WHERE t.task_uuid = p.task_uuid AND p.task_uuid = ANY(p_tasks)
    -- RETURNING sees the new row: `complete` was set just now (a task already complete has no step in progress).
    RETURNING t.task_uuid, t.template_uuid, t.state = 'complete' AS completed,
      -- a task whose counters now call for another move (finalize_tasks' groups)
      (t.state = 'steps_in_process' AND (t.steps_in_flight = 0 OR t.error IS NOT NULL))
        OR (t.state = 'blocked_by_failures' AND t.steps_in_flight = 0) AS moving
  )
  SELECT (SELECT array_agg(d.step_uuid) FROM done d),
         (SELECT array_agg(d.step_uuid::text || ':' || d.attempt) FROM done d),
         (SELECT coalesce(array_agg(sp.step_uuid), '{}') FROM split sp WHERE sp.claim),
         (SELECT coalesce(array_agg(sp.step_uuid), '{}') FROM split sp WHERE NOT sp.claim),
         (SELECT coalesce(array_agg(k.task_uuid) FILTER (WHERE k.moving), '{}') FROM counted k),
         (SELECT coalesce(array_agg(k.task_uuid) FILTER (WHERE k.completed), '{}') FROM counted k),
         (SELECT coalesce(array_agg(k.template_uuid) FILTER (WHERE k.completed), '{}') FROM counted k)
  INTO v_done, v_applied, v_claim, v_rest, v_moving, v_completed, v_completed_templates;

  IF v_done IS NOT NULL THEN
    n_done := cardinality(v_done);
    n_claim := cardinality(v_claim);
    n_rest := cardinality(v_rest);
    PERFORM tasker.log_step_paths(
      v_done || v_claim || v_rest,
      array_fill('complete'::text, ARRAY[n_done]) || array_fill('in_progress'::text, ARRAY[n_claim])
        || array_fill('enqueued'::text, ARRAY[n_rest]),
      array_fill('Complete'::text, ARRAY[n_done]) || array_fill('Start'::text, ARRAY[n_claim])
        || array_fill('Enqueue'::text, ARRAY[n_rest]),
      array_fill('enqueued_for_orchestration'::text, ARRAY[n_done]) || array_fill('enqueued'::text, ARRAY[n_claim])
        || array_fill(NULL::text, ARRAY[n_rest]),
      array_fill('EnqueueForOrchestration'::text, ARRAY[n_done]) || array_fill('Enqueue'::text, ARRAY[n_claim])
        || array_fill(NULL::text, ARRAY[n_rest]),
      p_worker, NULL, p_started);
    IF n_claim + n_rest > 0 THEN
      SELECT array_agg(m.step_uuid), array_agg(m.msg_id) INTO v_claimed_steps, v_claimed_msgs
      FROM tasker.send_step_messages(v_claim || v_rest, p_lease_seconds, v_claim) m
      WHERE m.step_uuid = ANY(v_claim);
    END IF;
    v_finalized := '[]';
    IF cardinality(v_completed) > 0 THEN
      PERFORM tasker.log_task_transitions(v_completed, ARRAY['evaluating_results', 'complete'],
                                          ARRAY['StepCompleted', 'AllStepsSuccessful'], p_worker);
      PERFORM tasker.notify_task_finished(v_completed, 'complete');
      SELECT jsonb_agg(jsonb_build_object('namespace', g.namespace, 'template', g.name, 'state', 'complete',
                                          'count', g.n))
      INTO v_finalized
      FROM (SELECT tp.namespace, tp.name, count(*)::int AS n FROM unnest(v_completed_templates) u
            JOIN tasker.templates tp ON tp.template_uuid = u GROUP BY tp.namespace, tp.name) g;
    END IF;
    IF cardinality(v_moving) > 0 THEN
      SELECT v_finalized || f.finalized INTO v_finalized FROM tasker.finalize_tasks(v_moving, p_worker) f;
    END IF;
    PERFORM tasker.notify_task_events(p_tasks);
    IF cardinality(v_claimed_steps) > 0 THEN
      SELECT jsonb_agg(to_jsonb(c)) INTO v_claimed FROM tasker.claimed_step_contexts(v_claimed_msgs, v_claimed_steps) c;
    END IF;
    PERFORM tasker.publish_step_events(p_results, v_applied);
  END IF;

  RETURN QUERY
  SELECT (x->>'step_uuid')::uuid, (x->>'attempt')::int,
         coalesce((x->>'step_uuid') || ':' || (x->>'attempt') = ANY(v_applied), false),
         CASE WHEN o = 1 THEN v_finalized END, CASE WHEN o = 1 THEN v_claimed END
  FROM jsonb_array_elements(p_results) WITH ORDINALITY AS r(x, o);
END $function$;
