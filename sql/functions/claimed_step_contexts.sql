-- What a worker needs to run the steps it just claimed (claim_steps, or complete_steps claiming the dependents
-- it released): inputs, task context, the results of its ancestors that ran, trace context and last checkpoint.
-- p_msgs and p_steps are parallel: each claimed step with its message.
CREATE OR REPLACE FUNCTION tasker.claimed_step_contexts(p_msgs bigint[], p_steps uuid[])
 RETURNS TABLE(msg_id bigint, step_uuid uuid, task_uuid uuid, step_name text, handler text, attempt integer, max_attempts integer, retryable boolean, retry_policy jsonb, timeout_ms integer, inputs jsonb, context jsonb, namespace text, template_name text, template_version text, correlation_id uuid, dependency_results jsonb, traceparent text, tracestate text, checkpoint jsonb)
 LANGUAGE plpgsql
 SET plan_cache_mode TO 'force_generic_plan'
 SET enable_seqscan TO 'off'
 SET enable_mergejoin TO 'off'
 SET enable_hashjoin TO 'off'
 SET jit TO 'off'
AS $function$
#variable_conflict use_column
BEGIN
  RETURN QUERY
  WITH RECURSIVE ancestors (step_uuid, ancestor) AS (
    SELECT e.to_step_uuid, e.from_step_uuid FROM tasker.workflow_step_edges e WHERE e.to_step_uuid = ANY(p_steps)
    UNION
    SELECT a.step_uuid, e.from_step_uuid FROM ancestors a
    JOIN tasker.workflow_step_edges e ON e.to_step_uuid = a.ancestor
  ), deps AS (
    -- skipped ancestors did not run and are left out; a tolerated failure (batch `continue`) is passed
    -- on as { __failed: true, error }.
    SELECT a.step_uuid,
           jsonb_object_agg(p.name, CASE WHEN p.state = 'error'
                                         THEN jsonb_build_object('__failed', true, 'error', p.results->'error')
                                         ELSE p.results->'result' END) AS results
    FROM ancestors a JOIN tasker.workflow_steps p ON p.step_uuid = a.ancestor
    WHERE p.state <> 'skipped'
    GROUP BY a.step_uuid
  ), deps_map AS (
    -- one row, looked up per step: joining deps to the steps would be a nested loop over two sets (ADR 0004)
    SELECT coalesce(jsonb_object_agg(d.step_uuid::text, d.results), '{}'::jsonb) AS m FROM deps d
  )
  SELECT c.msg_id, s.step_uuid, s.task_uuid, s.name::text, s.handler, s.attempts, s.max_attempts, s.retryable,
         s.retry_policy, s.timeout_ms, s.inputs, t.context, t.namespace::text, tp.name::text, tp.version::text,
         t.correlation_id, coalesce(dm.m->(s.step_uuid::text), '{}'::jsonb), q.message->>'traceparent',
         q.message->>'tracestate', s.checkpoint
  FROM unnest(p_msgs, p_steps) AS c(msg_id, step_uuid)
  JOIN tasker.queue_messages q ON q.msg_id = c.msg_id
  JOIN tasker.workflow_steps s ON s.step_uuid = c.step_uuid
  JOIN tasker.tasks t ON t.task_uuid = s.task_uuid
  JOIN tasker.templates tp ON tp.template_uuid = t.template_uuid
  CROSS JOIN deps_map dm;
END $function$;
