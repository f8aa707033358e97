-- A batch worker's progress, saved at once by the attempt that owns the step (refused otherwise).
CREATE OR REPLACE FUNCTION tasker.checkpoint_step(p_step uuid, p_attempt integer, p_checkpoint jsonb)
 RETURNS boolean
 LANGUAGE plpgsql
 SET plan_cache_mode TO 'force_generic_plan'
 SET enable_seqscan TO 'off'
 SET enable_mergejoin TO 'off'
 SET enable_hashjoin TO 'off'
 SET jit TO 'off'
AS $function$
BEGIN
  IF jsonb_typeof(p_checkpoint) IS DISTINCT FROM 'object' OR jsonb_typeof(p_checkpoint->'cursor') IS DISTINCT FROM 'number' THEN
    RAISE EXCEPTION 'a checkpoint must be an object with a numeric cursor' USING ERRCODE = 'TK422';
  END IF;
  UPDATE tasker.workflow_steps s
  SET checkpoint = p_checkpoint || jsonb_build_object('attempt', p_attempt, 'saved_at', clock_timestamp()),
      updated_at = now()
  WHERE s.step_uuid = p_step AND s.state = 'in_progress' AND s.attempts = p_attempt;
  RETURN FOUND;
END $function$;
