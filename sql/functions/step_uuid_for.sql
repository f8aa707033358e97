-- The uuid of a task's step, derived from the task's uuid and the step's name (ADR 0011): the task uuid's first
-- eight bytes (its UUIDv7 timestamp and version, so a task's steps sit together in the index) and eight bytes of
-- md5(task uuid || '/' || name), with the RFC 4122 variant bits. A worker running a chain of steps locally
-- computes the same uuid (src/contract/step-uuid.ts) before the step's row is claimed.
-- One expression with no FROM clause, so that the planner inlines it: as a called SQL function it was parsed and
-- planned again in every statement that used it (create_task, once per task).
CREATE OR REPLACE FUNCTION tasker.step_uuid_for(p_task uuid, p_name text)
 RETURNS uuid
 LANGUAGE sql
 IMMUTABLE PARALLEL SAFE
AS $function$
  SELECT (left(replace(p_task::text, '-', ''), 16)
          || substr('89ab', (('x' || left(md5(p_task::text || '/' || p_name), 1))::bit(4)::int % 4) + 1, 1)
          || substr(md5(p_task::text || '/' || p_name), 2, 15))::uuid
$function$;
