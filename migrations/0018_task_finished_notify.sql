-- Awaitable task results (TaskHandle.result(), onTaskFinished in src/results/):
-- * one notification when a task reaches a finished state (complete, error, cancelled, resolved_manually), sent
--   by tasker.move_tasks, the one function every task state change goes through (result processing, the worker
--   fast path, cancel, reevaluate, staleness), in the same transaction as the change, so a waiter hears of it
--   exactly when the change is visible. Channel `tasker_task_finished`, payload `uuid:state` items separated by
--   commas, chunked under the 8000-byte payload limit. No statement is added: the per-step round trips stay as
--   they were (test/e2e/round-trips.test.ts);
-- * tasker.task_outcomes: the outcome of many tasks in one read (a waiter's first check, a notification's tasks,
--   the re-check of every pending waiter after the listener reconnects);
-- * tasker.create_tasks: many tasks in one round trip and one transaction, each with its own identity rule.

-- Items of at most 55 bytes (36 + ':' + 17 + ','): 120 per notification stays well under 8000 bytes.
CREATE OR REPLACE FUNCTION tasker.notify_task_finished(p_tasks uuid[], p_state text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  v_chunk text;
BEGIN
  IF p_tasks IS NULL OR cardinality(p_tasks) = 0 THEN RETURN; END IF;
  IF cardinality(p_tasks) <= 120 THEN
    PERFORM pg_notify('tasker_task_finished',
                      (SELECT string_agg(DISTINCT t::text || ':' || p_state, ',') FROM unnest(p_tasks) AS t));
    RETURN;
  END IF;
  FOR v_chunk IN
    SELECT string_agg(t::text || ':' || p_state, ',') FROM (
      SELECT t, (row_number() OVER () - 1) / 120 AS grp FROM (SELECT DISTINCT unnest(p_tasks) AS t) d
    ) c GROUP BY grp
  LOOP
    PERFORM pg_notify('tasker_task_finished', v_chunk);
  END LOOP;
END $$;

-- As in 0003, plus the finished notification.
CREATE OR REPLACE FUNCTION tasker.move_tasks(
  p_tasks uuid[], p_path text[], p_events text[], p_processor text, p_metadata jsonb DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  v_to text := p_path[cardinality(p_path)];
BEGIN
  IF p_tasks IS NULL OR cardinality(p_tasks) = 0 THEN RETURN; END IF;
  UPDATE tasker.tasks SET state = v_to, updated_at = now(),
         completed_at = CASE WHEN v_to IN ('complete', 'error', 'cancelled', 'resolved_manually')
                             THEN now() ELSE completed_at END
  WHERE task_uuid = ANY(p_tasks);
  PERFORM tasker.log_task_transitions(p_tasks, p_path, p_events, p_processor, p_metadata);
  IF v_to IN ('complete', 'error', 'cancelled', 'resolved_manually') THEN
    PERFORM tasker.notify_task_finished(p_tasks, v_to); -- 0018
  END IF;
END $$;

-- The outcome of each given task that exists: its state and, once finished, the result of every step that
-- completed (or was resolved by an operator) by step name, the failed steps with their last error, and the
-- task's own error (set when the engine failed it, e.g. stuck). Skipped and cancelled steps are absent.
CREATE OR REPLACE FUNCTION tasker.task_outcomes(p_tasks uuid[])
RETURNS TABLE (task_uuid uuid, state text, results jsonb, failed_steps jsonb, error jsonb)
LANGUAGE sql STABLE AS $$
  SELECT t.task_uuid, t.state,
         CASE WHEN t.state IN ('complete', 'error', 'cancelled', 'resolved_manually') THEN coalesce((
           SELECT jsonb_object_agg(s.name, CASE WHEN s.results->>'success' = 'true'
                                                THEN coalesce(s.results->'result', 'null'::jsonb)
                                                ELSE 'null'::jsonb END)
           FROM tasker.workflow_steps s
           WHERE s.task_uuid = t.task_uuid AND s.state IN ('complete', 'resolved_manually')), '{}'::jsonb)
         END,
         CASE WHEN t.state IN ('error', 'cancelled') THEN coalesce((
           SELECT jsonb_agg(jsonb_build_object('step_uuid', s.step_uuid, 'name', s.name, 'attempts', s.attempts,
                                               'error', s.results->'error') ORDER BY s.name)
           FROM tasker.workflow_steps s
           WHERE s.task_uuid = t.task_uuid AND s.state = 'error'), '[]'::jsonb)
         END,
         t.error
  FROM tasker.tasks t
  WHERE t.task_uuid = ANY(p_tasks)
$$;

-- Creates one task per element of p_requests, in order, in this one transaction: each element is
-- { namespace, name, version, context, options } as tasker.create_task takes them, and each gets create_task's
-- identity rules on its own (an idempotency key returns the earlier task, a strict duplicate is reported as a
-- conflict row, not raised). An error (an unknown template, an invalid priority) rolls back the whole call.
CREATE OR REPLACE FUNCTION tasker.create_tasks(p_requests jsonb, p_processor text)
RETURNS TABLE (ord int, task_uuid uuid, state text, steps_enqueued int, correlation_id uuid,
               template_version text, duplicate text)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  v_req jsonb;
  v_ord bigint;
BEGIN
  IF p_requests IS NULL OR jsonb_typeof(p_requests) <> 'array' THEN
    RAISE EXCEPTION 'create_tasks expects a JSON array of requests' USING ERRCODE = 'TK422';
  END IF;
  FOR v_req, v_ord IN SELECT e, o FROM jsonb_array_elements(p_requests) WITH ORDINALITY AS x(e, o) LOOP
    RETURN QUERY
    SELECT v_ord::int, c.task_uuid, c.state, c.steps_enqueued, c.correlation_id, c.template_version, c.duplicate
    FROM tasker.create_task(v_req->>'namespace', v_req->>'name', v_req->>'version', v_req->'context',
                            coalesce(v_req->'options', '{}'::jsonb), p_processor, false) c;
  END LOOP;
END $$;

SELECT tasker.apply_hot_path_settings(ARRAY['move_tasks', 'notify_task_finished']);
