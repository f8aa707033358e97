-- The common case of complete_steps on the worker path (ADR 0010): every result a success of a step that neither
-- decides nor batches, in tasks the caller (complete_steps) has locked (p_tasks). Such a result can only complete
-- its step, so the step goes straight to `complete` (its audit trail still passes through
-- `enqueued_for_orchestration`, written in one statement with those of the dependents), its dependents are
-- released and enqueued or claimed for the caller, and its task's counters and state move on: the parts of
-- resolve_steps that have work for successes, called directly. Same arguments and rows as complete_steps; p_ids
-- are the step uuids of p_results.
CREATE OR REPLACE FUNCTION tasker.settle_successes(p_results jsonb, p_ids uuid[], p_tasks uuid[], p_worker text,
  p_claim_queues text[], p_claim_limit integer, p_lease_seconds double precision)
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
  v_msgs bigint[];
  -- 'step_uuid:attempt' of every applied input: one batch may hold a stale attempt and its replacement.
  v_applied text[];
  e record;
  v_finalized jsonb;
  v_claimed jsonb;
BEGIN
  WITH input AS (
    SELECT (x->>'step_uuid')::uuid AS step_uuid, (x->>'msg_id')::bigint AS msg_id, (x->>'attempt')::int AS attempt,
           x->'results' AS results
    FROM jsonb_array_elements(p_results) x
  ), upd AS (
    UPDATE tasker.workflow_steps s
    SET state = 'complete', results = i.results, processed_at = now(), updated_at = now()
    FROM input i
    WHERE s.step_uuid = ANY(p_ids) AND s.step_uuid = i.step_uuid AND s.state = 'in_progress' AND s.attempts = i.attempt
    RETURNING s.step_uuid, i.msg_id, i.attempt
  )
  SELECT array_agg(upd.step_uuid), array_agg(upd.msg_id), array_agg(upd.step_uuid::text || ':' || upd.attempt)
  INTO v_done, v_msgs, v_applied
  FROM upd;

  IF v_done IS NOT NULL THEN
    DELETE FROM tasker.queue_messages m WHERE m.msg_id = ANY(v_msgs);
    -- The completed steps' audit rows are written with those of the dependents enqueued or claimed.
    SELECT * INTO e FROM tasker.resolve_enqueue_ready(tasker.release_dependents(v_done), '{}', p_worker,
                                                      p_claim_queues, p_claim_limit, p_lease_seconds, v_done);
    -- Also notifies the tasks' event streams.
    SELECT f.finalized INTO v_finalized
    FROM tasker.resolve_finalize_tasks(p_tasks, v_done, '{}', '{}', e.enqueued, '{}', '{}', '{}', p_worker) f;
    IF cardinality(e.claimed_steps) > 0 THEN
      SELECT jsonb_agg(to_jsonb(c)) INTO v_claimed FROM tasker.claimed_step_contexts(e.claimed_msgs, e.claimed_steps) c;
    END IF;
    PERFORM tasker.publish_step_events(p_results, v_applied);
  END IF;

  RETURN QUERY
  SELECT (x->>'step_uuid')::uuid, (x->>'attempt')::int,
         coalesce((x->>'step_uuid') || ':' || (x->>'attempt') = ANY(v_applied), false),
         CASE WHEN o = 1 THEN v_finalized END, CASE WHEN o = 1 THEN v_claimed END
  FROM jsonb_array_elements(p_results) WITH ORDINALITY AS r(x, o);
END $function$;
