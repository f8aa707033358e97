-- Part of resolve_steps: a batch worker that failed for good under failure strategy fail_fast stops the batches of
-- its batchable step that have not started: they are cancelled (their messages are dropped by the next claim that
-- reads them); running batches finish, and the task fails as soon as they have. Returns the cancelled batches that
-- were already enqueued (`withdrawn`: they were in flight and leave the task's in-flight count).
CREATE OR REPLACE FUNCTION tasker.resolve_fail_fast(p_failed uuid[], p_processor text, OUT withdrawn uuid[])
 LANGUAGE plpgsql
 SET plan_cache_mode TO 'force_generic_plan'
 SET enable_seqscan TO 'off'
 SET enable_mergejoin TO 'off'
 SET enable_hashjoin TO 'off'
 SET jit TO 'off'
AS $function$
DECLARE
  v_cancel_pending uuid[];
BEGIN
  withdrawn := '{}';
  IF p_failed IS NULL OR cardinality(p_failed) = 0 THEN RETURN; END IF;
  -- Locked before they are changed: a worker may be claiming one of them right now (claims skip locked rows;
  -- a row claimed first is re-checked and left alone).
  WITH target AS (
    SELECT sib.step_uuid, sib.state AS was
    FROM tasker.workflow_steps f
    JOIN tasker.workflow_step_edges up ON up.to_step_uuid = f.step_uuid
    JOIN tasker.workflow_step_edges down ON down.from_step_uuid = up.from_step_uuid
    JOIN tasker.workflow_steps sib ON sib.step_uuid = down.to_step_uuid
    WHERE f.step_uuid = ANY(p_failed) AND f.step_type = 'batch_worker'
      AND sib.step_type = 'batch_worker' AND sib.state IN ('pending', 'enqueued') AND NOT sib.tolerate_failure
    FOR UPDATE OF sib
  ), upd AS (
    UPDATE tasker.workflow_steps s SET state = 'cancelled', updated_at = now()
    FROM (SELECT DISTINCT target.step_uuid, target.was FROM target) t
    WHERE s.step_uuid = t.step_uuid AND s.state IN ('pending', 'enqueued')
    RETURNING s.step_uuid, t.was
  )
  SELECT coalesce(array_agg(upd.step_uuid) FILTER (WHERE upd.was = 'enqueued'), '{}'),
         coalesce(array_agg(upd.step_uuid) FILTER (WHERE upd.was = 'pending'), '{}')
  INTO withdrawn, v_cancel_pending
  FROM upd;
  IF cardinality(withdrawn) + cardinality(v_cancel_pending) > 0 THEN
    PERFORM tasker.log_step_transitions(withdrawn || v_cancel_pending, 'cancelled', 'Cancel', p_processor,
                                        jsonb_build_object('reason', 'fail_fast: another batch failed'));
  END IF;
END $function$;
