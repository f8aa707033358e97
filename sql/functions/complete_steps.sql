-- A worker's step results, recorded in one transaction. With p_resolve (worker.resolve_in_completion) they are
-- also resolved here: successes of plain steps that hold every step their tasks have left by settle_last_steps
-- (ADR 0014), other successes of plain steps by settle_successes, anything else by resolve_steps.
-- Task outcomes on the worker fast path (worker.resolve_in_completion): complete_steps also returns the
-- tasks its resolution finalized, grouped as resolve_steps groups them, on the first row only (NULL
-- elsewhere and on the default path), so a worker counts completed and failed tasks by template like an
-- orchestrator does. No extra statement: the grouping was already computed and thrown away.
-- Resolving, the worker may also claim the dependents its results released (up to p_claim_limit, on its queues
-- p_claim_queues, leased for p_lease_seconds): their execution contexts (claimed_step_contexts rows as JSON
-- objects) come back in `claimed` on the first row, so the next handler starts without a notification or a claim
-- round trip (ADR 0009). Outcomes of steps the worker ran locally after those (`"chained": true`, ADR 0011)
-- are started by start_chained_steps, then recorded and resolved with them. p_running: chained steps the worker
-- is running now, whose outcomes come later; settle_successes claims those its results release for the worker
-- (not counted in p_claim_limit), so they need not run again.
CREATE OR REPLACE FUNCTION tasker.complete_steps(p_results jsonb, p_worker text, p_resolve boolean DEFAULT false,
  p_claim_queues text[] DEFAULT NULL, p_claim_limit integer DEFAULT 0, p_lease_seconds double precision DEFAULT 0,
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
  v_ok uuid[];
  v_failed uuid[];
  -- 'step_uuid:attempt' of every applied input: one batch may hold a stale attempt and its replacement.
  v_applied text[];
  -- on the fast path, the tasks this call finalized (resolve_steps' grouping), for the outcome counters.
  v_finalized jsonb;
  v_claimed_msgs bigint[];
  v_claimed_steps uuid[];
  v_claimed jsonb;
  v_msgs bigint[];
  v_tasks uuid[];
  v_plain boolean;
  v_remaining bigint;
  v_chained boolean;
  v_started uuid[] := '{}';
  v_ids uuid[] := ARRAY(SELECT (e->>'step_uuid')::uuid FROM jsonb_array_elements(p_results) e);
BEGIN
  IF p_resolve THEN
    -- Locks the tasks (in uuid order, as resolve_steps does) and sees whether every step is plain: neither a
    -- decision nor a batchable step, whose successes need more than completing.
    SELECT array_agg(l.task_uuid), coalesce(bool_and(l.plain), false), sum(l.steps_remaining)
    INTO v_tasks, v_plain, v_remaining FROM (
      SELECT t.task_uuid, t.steps_remaining,
             NOT EXISTS (SELECT 1 FROM tasker.workflow_steps s
                         WHERE s.step_uuid = ANY(v_ids) AND s.task_uuid = t.task_uuid
                           AND s.step_type IN ('decision', 'batchable')) AS plain
      FROM tasker.tasks t
      WHERE t.task_uuid = ANY(ARRAY(SELECT s.task_uuid FROM tasker.workflow_steps s WHERE s.step_uuid = ANY(v_ids)))
      ORDER BY t.task_uuid
      FOR UPDATE OF t
    ) l;
    -- as many results as the tasks have steps left: perhaps a batch that completes them all (ADR 0014)
    IF v_plain AND v_remaining = jsonb_array_length(p_results) THEN
      v_finalized := tasker.settle_last_steps(p_results, v_ids, v_tasks, p_worker);
      IF v_finalized IS NOT NULL THEN
        RETURN QUERY
        SELECT (e->>'step_uuid')::uuid, (e->>'attempt')::int, true, CASE WHEN o = 1 THEN v_finalized END, NULL::jsonb
        FROM jsonb_array_elements(p_results) WITH ORDINALITY AS x(e, o);
        RETURN;
      END IF;
    END IF;
    SELECT v_plain AND coalesce(bool_and(coalesce((e->>'success')::boolean, false)), true),
           coalesce(bool_or((e->>'chained')::boolean), false)
    INTO v_plain, v_chained FROM jsonb_array_elements(p_results) e;
    -- steps the worker ran locally after the ones it claimed (ADR 0011)
    IF v_chained THEN v_started := tasker.start_chained_steps(p_results, v_tasks, p_worker, v_plain); END IF;
    IF v_plain THEN
      RETURN QUERY SELECT * FROM tasker.settle_successes(p_results, v_ids, v_tasks, p_worker, p_claim_queues,
                                                         p_claim_limit, p_lease_seconds, v_started,
                                                         coalesce(p_running, '{}'));
      RETURN;
    END IF;
  END IF;

  WITH input AS (
    -- each result by 'step_uuid:attempt', read per step row: joining the input to the steps would be a nested
    -- loop over both sets, or a scan of every step (ADR 0004)
    SELECT jsonb_object_agg(((e->>'step_uuid')::uuid)::text || ':' || ((e->>'attempt')::int)::text, e) AS m
    FROM jsonb_array_elements(p_results) e
  ), upd AS (
    UPDATE tasker.workflow_steps s
    SET state = CASE WHEN coalesce((i.m->(s.step_uuid::text || ':' || s.attempts)->>'success')::boolean, false)
                     THEN 'enqueued_for_orchestration' ELSE 'enqueued_as_error_for_orchestration' END,
        results = i.m->(s.step_uuid::text || ':' || s.attempts)->'results', updated_at = now()
    FROM input i
    WHERE s.step_uuid = ANY(v_ids) AND s.state = 'in_progress' AND i.m ? (s.step_uuid::text || ':' || s.attempts)
    RETURNING s.step_uuid, s.task_uuid,
              coalesce((i.m->(s.step_uuid::text || ':' || s.attempts)->>'success')::boolean, false) AS success,
              (i.m->(s.step_uuid::text || ':' || s.attempts)->>'msg_id')::bigint AS msg_id, s.attempts AS attempt
  )
  SELECT array_agg(upd.step_uuid) FILTER (WHERE upd.success), array_agg(upd.step_uuid) FILTER (WHERE NOT upd.success),
         array_agg(upd.msg_id), array_agg(upd.task_uuid), array_agg(upd.step_uuid::text || ':' || upd.attempt)
  INTO v_ok, v_failed, v_msgs, v_tasks, v_applied
  FROM upd;

  IF v_msgs IS NOT NULL THEN
    -- Resolving here, the audit row of a successful result is written with its outcome (resolve_log_outcome).
    IF v_ok IS NOT NULL AND NOT p_resolve THEN
      PERFORM tasker.log_step_transitions(v_ok, 'enqueued_for_orchestration', 'EnqueueForOrchestration', p_worker);
    END IF;
    IF v_failed IS NOT NULL THEN
      PERFORM tasker.log_step_transitions(v_failed, 'enqueued_as_error_for_orchestration',
                                          'EnqueueAsErrorForOrchestration', p_worker);
    END IF;
    DELETE FROM tasker.queue_messages m WHERE m.msg_id = ANY(v_msgs);
    IF p_resolve THEN
      SELECT r.finalized, r.claimed_msgs, r.claimed_steps INTO v_finalized, v_claimed_msgs, v_claimed_steps
      FROM tasker.resolve_steps(coalesce(v_ok, '{}') || coalesce(v_failed, '{}'), p_worker,
                                p_claim_queues, p_claim_limit, p_lease_seconds, coalesce(v_ok, '{}')) r;
      IF cardinality(v_claimed_steps) > 0 THEN
        SELECT jsonb_agg(to_jsonb(c)) INTO v_claimed
        FROM tasker.claimed_step_contexts(v_claimed_msgs, v_claimed_steps) c;
      END IF;
    ELSE
      INSERT INTO tasker.queue_messages (queue_name, message)
      SELECT 'orchestration_step_results', jsonb_build_object('task_uuid', s.task_uuid, 'step_uuid', s.step_uuid)
      FROM tasker.workflow_steps s WHERE s.step_uuid = ANY(coalesce(v_ok, '{}') || coalesce(v_failed, '{}'));
      PERFORM pg_notify(tasker.queue_channel('orchestration_step_results'), '');
    END IF;
    PERFORM tasker.notify_task_events(v_tasks);

    -- Durable domain events of the applied results, in this same transaction: an event exists exactly when its
    -- step's result was recorded and handed to orchestration. Refused results (a lost lease) publish nothing.
    PERFORM tasker.publish_step_events(p_results, v_applied);
  END IF;

  RETURN QUERY
  SELECT (e->>'step_uuid')::uuid, (e->>'attempt')::int,
         coalesce((e->>'step_uuid') || ':' || (e->>'attempt') = ANY(v_applied), false),
         CASE WHEN o = 1 THEN v_finalized END, CASE WHEN o = 1 THEN v_claimed END
  FROM jsonb_array_elements(p_results) WITH ORDINALITY AS x(e, o);
END $function$;
