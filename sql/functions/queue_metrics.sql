CREATE OR REPLACE FUNCTION tasker.queue_metrics(p_queue text DEFAULT NULL::text)
 RETURNS TABLE(queue_name text, queue_length bigint, visible_length bigint, oldest_msg_age_seconds double precision)
 LANGUAGE sql
 STABLE
AS $function$
  SELECT q.queue_name::text,
         count(m.msg_id),
         count(m.msg_id) FILTER (WHERE m.vt <= now()),
         coalesce(extract(epoch FROM now() - min(m.enqueued_at)), 0)::double precision
  FROM tasker.queues q
  LEFT JOIN tasker.queue_messages m ON m.queue_name = q.queue_name
  WHERE p_queue IS NULL OR q.queue_name = p_queue
  GROUP BY q.queue_name
  ORDER BY q.queue_name
$function$;
