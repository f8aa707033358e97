CREATE OR REPLACE FUNCTION tasker.create_queue(p_queue text)
 RETURNS void
 LANGUAGE plpgsql
AS $function$
BEGIN
  INSERT INTO tasker.queues (queue_name) VALUES (p_queue) ON CONFLICT (queue_name) DO NOTHING;
END $function$;
