-- Part of create_task: the task's steps (batch_worker blueprints excluded), their edges and audit rows, and a
-- message for each root step, in one statement. Steps take their uuids from p_step_uuids (name -> uuid, made by
-- create_task in one pass over the template) and each edge is one row per (step, dependency) whose two uuids are
-- looked up in that map: no statement joins two sets of steps, so no plan can multiply them (docs/adr/0004).
-- The first p_claim_limit root steps (in template order) are claimed for p_claimer in the same statement, as
-- claim_steps would: in_progress, attempt 1, audited `Start` by the claimer, the message leased for
-- p_lease_seconds. Returns each root step with its message and whether it was claimed, in template order; a claimed
-- one also with the step's part of its execution context (`claim`: what claimed_step_contexts would return of the
-- step and its message; create_task adds the task's part: a root step has no dependency results to look up).
CREATE OR REPLACE FUNCTION tasker.create_task_steps(p_task uuid, p_template_uuid uuid, p_step_uuids jsonb,
  p_namespace text, p_correlation_id uuid, p_trace jsonb, p_head_start bigint, p_processor text,
  p_claim_limit integer DEFAULT 0, p_claimer text DEFAULT NULL, p_lease_seconds double precision DEFAULT 0)
 RETURNS TABLE(step_uuid uuid, msg_id bigint, claimed boolean, claim jsonb)
 LANGUAGE plpgsql
 SET plan_cache_mode TO 'force_generic_plan'
 SET enable_seqscan TO 'off'
 SET enable_mergejoin TO 'off'
 SET enable_hashjoin TO 'off'
 SET jit TO 'off'
AS $function$
#variable_conflict use_column
DECLARE
  v_parent_uuids jsonb;
BEGIN
  -- a dependency on a batch_worker blueprint is, until its batches exist, an edge from its batchable step.
  SELECT p_step_uuids || coalesce(jsonb_object_agg(bp.name, p_step_uuids->(bp.depends_on[1])), '{}'::jsonb)
  INTO v_parent_uuids
  FROM tasker.template_steps bp WHERE bp.template_uuid = p_template_uuid AND bp.step_type = 'batch_worker';

  -- steps take their uuids from p_step_uuids, and each edge is one row per (step, dependency) whose two
  -- uuids are looked up in the maps (a binary search in a jsonb object): no join, so no plan can multiply rows.
  RETURN QUERY
  WITH steps AS (
    INSERT INTO tasker.workflow_steps (step_uuid, task_uuid, name, handler, state, pending_parents, attempts,
                                       last_attempted_at, max_attempts, retryable, retry_policy, timeout_ms, inputs,
                                       step_type)
    SELECT (p_step_uuids->>r.name)::uuid, p_task, r.name, r.handler,
           CASE WHEN NOT r.root THEN 'pending' WHEN r.root_rank <= p_claim_limit THEN 'in_progress' ELSE 'enqueued' END,
           cardinality(r.depends_on), CASE WHEN r.root AND r.root_rank <= p_claim_limit THEN 1 ELSE 0 END,
           CASE WHEN r.root AND r.root_rank <= p_claim_limit THEN now() END,
           r.max_attempts, r.retryable, r.retry_policy, r.timeout_ms, r.inputs, r.step_type
    FROM (
      SELECT ts.*, cardinality(ts.depends_on) = 0 AS root,
             count(*) FILTER (WHERE cardinality(ts.depends_on) = 0) OVER (ORDER BY ts.position) AS root_rank
      FROM tasker.template_steps ts WHERE ts.template_uuid = p_template_uuid AND ts.step_type <> 'batch_worker'
    ) r
    ORDER BY r.position
    RETURNING workflow_steps.step_uuid, workflow_steps.name, workflow_steps.state,
              CASE WHEN workflow_steps.state = 'in_progress' THEN jsonb_build_object(
                'step_uuid', workflow_steps.step_uuid, 'task_uuid', workflow_steps.task_uuid,
                'step_name', workflow_steps.name, 'handler', workflow_steps.handler,
                'attempt', workflow_steps.attempts, 'max_attempts', workflow_steps.max_attempts,
                'retryable', workflow_steps.retryable, 'retry_policy', workflow_steps.retry_policy,
                'timeout_ms', workflow_steps.timeout_ms, 'inputs', workflow_steps.inputs,
                'checkpoint', workflow_steps.checkpoint, 'dependency_results', '{}'::jsonb,
                'traceparent', p_trace->>'traceparent', 'tracestate', p_trace->>'tracestate') END AS claim
  ),
  edges AS (
    INSERT INTO tasker.workflow_step_edges (from_step_uuid, to_step_uuid)
    SELECT (v_parent_uuids->>dep.name)::uuid, (p_step_uuids->>ts.name)::uuid
    FROM tasker.template_steps ts CROSS JOIN LATERAL unnest(ts.depends_on) AS dep(name)
    WHERE ts.template_uuid = p_template_uuid AND ts.step_type <> 'batch_worker'
      AND v_parent_uuids->>dep.name IS NOT NULL
  ),
  audit AS (
    INSERT INTO tasker.workflow_step_transitions (step_uuid, from_state, to_state, event, sort_key, processor)
    SELECT steps.step_uuid, NULL, 'pending', 'Create', 1, p_processor FROM steps
    UNION ALL
    SELECT steps.step_uuid, 'pending', 'enqueued', 'Enqueue', 2, p_processor FROM steps
    WHERE steps.state IN ('enqueued', 'in_progress')
    UNION ALL
    SELECT steps.step_uuid, 'enqueued', 'in_progress', 'Start', 3, p_claimer FROM steps
    WHERE steps.state = 'in_progress'
  ), messages AS (
    INSERT INTO tasker.queue_messages (queue_name, vt, read_ct, message)
    SELECT tasker.worker_queue_name(p_namespace),
           CASE WHEN steps.state = 'in_progress' THEN clock_timestamp() + make_interval(secs => p_lease_seconds)
                ELSE now() - p_head_start * interval '1 millisecond' END,
           CASE WHEN steps.state = 'in_progress' THEN 1 ELSE 0 END,
           CASE WHEN p_trace IS NULL
                THEN jsonb_build_object('task_uuid', p_task, 'step_uuid', steps.step_uuid, 'correlation_id', p_correlation_id)
                ELSE jsonb_build_object('task_uuid', p_task, 'step_uuid', steps.step_uuid, 'correlation_id', p_correlation_id)
                     || p_trace
           END
    FROM steps WHERE steps.state IN ('enqueued', 'in_progress')
    RETURNING queue_messages.msg_id, (queue_messages.message->>'step_uuid')::uuid AS step_uuid,
              queue_messages.read_ct = 1 AS claimed
  )
  SELECT m.step_uuid, m.msg_id, m.claimed, s.claim || jsonb_build_object('msg_id', m.msg_id)
  FROM messages m LEFT JOIN steps s ON m.claimed AND s.step_uuid = m.step_uuid
  ORDER BY m.msg_id;
END $function$;
