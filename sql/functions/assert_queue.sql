-- Raises TK441 for a queue that was never created (sends must not vanish into an unknown queue).
CREATE OR REPLACE FUNCTION tasker.assert_queue(p_queue text)
 RETURNS void
 LANGUAGE plpgsql
 STABLE
AS $function$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM tasker.queues WHERE queue_name = p_queue) THEN
    RAISE EXCEPTION 'queue % does not exist', p_queue USING ERRCODE = 'TK441', HINT = 'Create it with create_queue first.';
  END IF;
END $function$;
