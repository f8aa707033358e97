-- ---------------------------------------------------------------------------------------------------------
-- Orchestration: settle a batch of step results in one transaction: take (and so acknowledge) up to p_limit
-- result messages, then resolve their steps. A rollback restores the messages. Passes on `finalized`
-- (the tasks the batch finalized, grouped by template) for the outcome counters.
-- ---------------------------------------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION tasker.process_step_results(p_limit integer, p_processor text)
 RETURNS TABLE(results_processed integer, steps_enqueued integer, tasks_finalized integer, next_retry_at timestamp with time zone, finalized jsonb)
 LANGUAGE plpgsql
 SET plan_cache_mode TO 'force_generic_plan'
 SET enable_seqscan TO 'off'
 SET enable_mergejoin TO 'off'
 SET enable_hashjoin TO 'off'
 SET jit TO 'off'
AS $function$
#variable_conflict use_column
DECLARE
  v_steps uuid[];
  v_n int;
BEGIN
  WITH taken AS (
    DELETE FROM tasker.queue_messages m
    WHERE m.msg_id IN (
      SELECT v.msg_id FROM tasker.queue_messages v
      WHERE v.queue_name = 'orchestration_step_results' AND v.vt <= now()
      ORDER BY v.vt, v.msg_id
      LIMIT p_limit
      FOR UPDATE SKIP LOCKED
    )
    RETURNING (m.message->>'step_uuid')::uuid AS step_uuid
  )
  SELECT array_agg(taken.step_uuid) INTO v_steps FROM taken;
  IF v_steps IS NULL THEN
    RETURN QUERY SELECT 0, 0, 0, NULL::timestamptz, '[]'::jsonb;
    RETURN;
  END IF;
  v_n := cardinality(v_steps);
  RETURN QUERY SELECT v_n, r.steps_enqueued, r.tasks_finalized, r.next_retry_at, r.finalized
               FROM tasker.resolve_steps(v_steps, p_processor) r;
END $function$;
