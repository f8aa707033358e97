-- The dashboard's overview in one round trip: tasks created, completed, failed and cancelled per time bucket
-- over the window (buckets aligned to multiples of p_bucket since the epoch, the first one holding the window's
-- start, zero-filled), tasks by state (the unfinished states and error, zero-filled), queue depths and open
-- dead-letter entries. Created tasks are found through the primary key (a task's UUIDv7 is drawn at or after
-- its created_at, so the smallest UUIDv7 of the first bucket bounds them), finished ones through
-- tasks_completed_at_idx, tasks by state through tasks_state_idx: the cost follows the window and the active
-- tasks, not the history.
-- PL/pgSQL so that its plan is made once per connection: PostgreSQL cannot inline a SQL function that reads
-- tables, and would parse and plan it again on every call.
CREATE OR REPLACE FUNCTION tasker.task_overview(p_window interval, p_bucket interval)
 RETURNS jsonb
 LANGUAGE plpgsql
 STABLE
AS $function$
BEGIN
  RETURN (
  WITH bounds AS (
    SELECT date_bin(p_bucket, now() - p_window, timestamptz '1970-01-01 00:00:00+00') AS first_start
  ), slots AS (
    SELECT g AS start FROM bounds b, generate_series(b.first_start, now(), p_bucket) AS g
  ), created AS (
    SELECT date_bin(p_bucket, t.created_at, timestamptz '1970-01-01 00:00:00+00') AS start, count(*) AS n
    FROM tasker.tasks t, bounds b
    WHERE t.task_uuid >= (lpad(to_hex(floor(extract(epoch FROM b.first_start) * 1000)::bigint), 12, '0')
                          || '00000000000000000000')::uuid
      AND t.created_at >= b.first_start
    GROUP BY 1
  ), finished AS (
    SELECT date_bin(p_bucket, t.completed_at, timestamptz '1970-01-01 00:00:00+00') AS start,
           count(*) FILTER (WHERE t.state = 'complete') AS completed,
           count(*) FILTER (WHERE t.state = 'error') AS failed,
           count(*) FILTER (WHERE t.state = 'cancelled') AS cancelled
    FROM tasker.tasks t, bounds b
    WHERE t.completed_at IS NOT NULL AND t.completed_at >= b.first_start
    GROUP BY 1
  )
  SELECT jsonb_build_object(
    'buckets', (SELECT coalesce(jsonb_agg(jsonb_build_object(
                  'start', s.start, 'created', coalesce(c.n, 0), 'completed', coalesce(f.completed, 0),
                  'failed', coalesce(f.failed, 0), 'cancelled', coalesce(f.cancelled, 0)) ORDER BY s.start), '[]')
                FROM slots s LEFT JOIN created c ON c.start = s.start LEFT JOIN finished f ON f.start = s.start),
    'tasks_by_state', (SELECT jsonb_object_agg(st.state, coalesce(n.n, 0))
                       FROM unnest(ARRAY['pending', 'initializing', 'enqueuing_steps', 'steps_in_process',
                                         'evaluating_results', 'waiting_for_dependencies', 'waiting_for_retry',
                                         'blocked_by_failures', 'error']) AS st(state)
                       LEFT JOIN (SELECT t.state, count(*) AS n FROM tasker.tasks t
                                  WHERE t.state IN ('pending', 'initializing', 'enqueuing_steps', 'steps_in_process',
                                                    'evaluating_results', 'waiting_for_dependencies',
                                                    'waiting_for_retry', 'blocked_by_failures', 'error')
                                  GROUP BY t.state) n ON n.state = st.state),
    'queue_depths', (SELECT coalesce(jsonb_agg(jsonb_build_object(
                       'queue', q.queue_name, 'depth', q.queue_length, 'visible', q.visible_length,
                       'oldest_age_seconds', q.oldest_msg_age_seconds) ORDER BY q.queue_name), '[]')
                     FROM tasker.queue_metrics(NULL) q),
    'dlq_open', (SELECT count(*) FROM tasker.tasks_dlq d WHERE d.resolution_status = 'pending')));
END $function$;
