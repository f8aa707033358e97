-- Partial update: only the given fields change; setting a status stamps resolution_timestamp.
CREATE OR REPLACE FUNCTION tasker.update_dlq(p_entry uuid, p_status text, p_notes text, p_by text)
 RETURNS SETOF tasker.tasks_dlq
 LANGUAGE plpgsql
AS $function$
BEGIN
  RETURN QUERY
    UPDATE tasker.tasks_dlq d SET
      resolution_status = coalesce(p_status, d.resolution_status),
      resolution_timestamp = CASE WHEN p_status IS NOT NULL THEN now() ELSE d.resolution_timestamp END,
      resolution_notes = coalesce(p_notes, d.resolution_notes),
      resolved_by = coalesce(p_by, d.resolved_by),
      updated_at = now()
    WHERE d.dlq_entry_uuid = p_entry
    RETURNING d.*;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'dead-letter entry % not found', p_entry USING ERRCODE = 'TK407';
  END IF;
END $function$;
