-- Step resolution: settles the outcomes of the given steps and moves their tasks on, in the caller's transaction.
-- Shared by the orchestrator (process_step_results) and the worker fast path (complete_steps). In order, each a
-- function of its own:
--   resolve_decide_outcomes   what each result comes to: complete, retry, error, or tolerated
--   resolve_apply_decisions   completed decision steps: the branches not chosen become skip seeds
--   resolve_expand_batches    completed batchable steps: one batch_worker instance per range
--   resolve_cascade_skips     skip the unchosen branches and everything below them
--   resolve_fail_fast         a failed fail_fast batch cancels the batches that have not started
--   resolve_record_outcomes   steps to their states (audit rows: resolve_log_outcome), dependents of completed
--                             steps released
--   resolve_enqueue_ready     ready steps enqueued (not in tasks on their way to error)
--   resolve_finalize_tasks    task counters, task states, dead letters, outcome counters
-- The tasks are locked first, in uuid order, so concurrent resolutions of one task serialize and never deadlock.
-- A worker resolving in its completion transaction may claim released dependents for itself (p_claim_queues,
-- p_claim_limit, p_lease_seconds: see resolve_enqueue_ready); they come back as claimed_msgs / claimed_steps.
-- p_unaudited: successful results it stored without their `enqueued_for_orchestration` audit row, which is
-- written with their outcome (resolve_log_outcome).
CREATE OR REPLACE FUNCTION tasker.resolve_steps(p_steps uuid[], p_processor text, p_claim_queues text[] DEFAULT NULL,
  p_claim_limit integer DEFAULT 0, p_lease_seconds double precision DEFAULT 0, p_unaudited uuid[] DEFAULT '{}')
 RETURNS TABLE(steps_enqueued integer, tasks_finalized integer, next_retry_at timestamp with time zone, finalized jsonb,
               claimed_msgs bigint[], claimed_steps uuid[])
 LANGUAGE plpgsql
 SET plan_cache_mode TO 'force_generic_plan'
 SET enable_seqscan TO 'off'
 SET enable_mergejoin TO 'off'
 SET enable_hashjoin TO 'off'
 SET jit TO 'off'
AS $function$
DECLARE
  v_tasks uuid[];
  o record;
  d record;
  v_invalid_batches uuid[];
  sk record;
  v_withdrawn uuid[];
  r record;
  e record;
  f record;
BEGIN
  SELECT array_agg(l.task_uuid) INTO v_tasks FROM (
    SELECT t.task_uuid FROM tasker.tasks t
    WHERE t.task_uuid = ANY(ARRAY(SELECT s.task_uuid FROM tasker.workflow_steps s WHERE s.step_uuid = ANY(p_steps)))
    ORDER BY t.task_uuid
    FOR UPDATE OF t
  ) l;

  SELECT * INTO o FROM tasker.resolve_decide_outcomes(p_steps);
  SELECT * INTO d FROM tasker.resolve_apply_decisions(o.decisions);
  v_invalid_batches := tasker.resolve_expand_batches(o.batchables, p_processor);
  -- A decision or batchable step whose outcome was invalid fails instead of completing.
  o.complete := ARRAY(SELECT u FROM unnest(o.complete) u WHERE NOT (u = ANY(d.invalid || v_invalid_batches)));
  o.error := o.error || d.invalid || v_invalid_batches;
  SELECT * INTO sk FROM tasker.resolve_cascade_skips(d.skip_seeds, p_processor);
  v_withdrawn := tasker.resolve_fail_fast(o.error, p_processor);
  SELECT * INTO r FROM tasker.resolve_record_outcomes(o.complete, o.error, o.retry, o.tolerated, p_processor,
                                                      p_unaudited);
  SELECT * INTO e FROM tasker.resolve_enqueue_ready(r.ready || sk.convergence_ready, o.error, p_processor,
                                                    p_claim_queues, p_claim_limit, p_lease_seconds);
  SELECT * INTO f FROM tasker.resolve_finalize_tasks(v_tasks, o.complete, o.error, o.retry, e.enqueued, o.tolerated,
                                                     sk.skipped, v_withdrawn, p_processor);
  RETURN QUERY SELECT cardinality(e.enqueued), f.tasks_finalized, r.next_retry_at, f.finalized, e.claimed_msgs,
                      e.claimed_steps;
END $function$;
