-- Engine figures for a Prometheus scrape, in one round trip: depth and oldest-message age per queue, unfinished
-- tasks by state (through tasks_state_idx, so the cost follows the active tasks, not the history), and open
-- dead-letter entries.
-- PL/pgSQL so that its plan is made once per connection: PostgreSQL cannot inline a SQL function that reads
-- tables, and would parse and plan it again on every call.
CREATE OR REPLACE FUNCTION tasker.engine_metrics()
 RETURNS jsonb
 LANGUAGE plpgsql
 STABLE
AS $function$
BEGIN
  RETURN (
  SELECT jsonb_build_object(
    'queues', coalesce((SELECT jsonb_agg(jsonb_build_object(
                 'queue', q.queue_name, 'length', q.queue_length, 'visible', q.visible_length,
                 'oldest_age_seconds', q.oldest_msg_age_seconds))
               FROM tasker.queue_metrics(NULL) q), '[]'::jsonb),
    'active_tasks', coalesce((SELECT jsonb_object_agg(s.state, s.n) FROM (
                 SELECT t.state, count(*) AS n FROM tasker.tasks t
                 WHERE t.state IN ('pending', 'initializing', 'enqueuing_steps', 'steps_in_process',
                                   'evaluating_results', 'waiting_for_dependencies', 'waiting_for_retry',
                                   'blocked_by_failures')
                 GROUP BY t.state) s), '{}'::jsonb),
    'dlq_pending', (SELECT count(*) FROM tasker.tasks_dlq d WHERE d.resolution_status = 'pending')));
END $function$;
