-- ---------------------------------------------------------------------------------------------------------
-- Dead-letter queue
-- ---------------------------------------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION tasker.list_dlq(p_status text, p_reason text, p_before uuid, p_limit integer)
 RETURNS SETOF tasker.tasks_dlq
 LANGUAGE sql
 STABLE
AS $function$
  SELECT * FROM tasker.tasks_dlq d
  WHERE (p_status IS NULL OR d.resolution_status = p_status)
    AND (p_reason IS NULL OR d.dlq_reason = p_reason)
    AND (p_before IS NULL OR d.dlq_entry_uuid < p_before)
  ORDER BY d.dlq_entry_uuid DESC
  LIMIT p_limit
$function$;
