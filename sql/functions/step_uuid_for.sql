-- The uuid of a task's step, derived from the task's uuid and the step's name (ADR 0011): the task uuid's first
-- eight bytes (its UUIDv7 timestamp and version, so a task's steps sit together in the index) and eight bytes of
-- md5(task uuid || '/' || name), with the RFC 4122 variant bits. A worker running a chain of steps locally
-- computes the same uuid (src/contract/step-uuid.ts) before the step's row is claimed.
CREATE OR REPLACE FUNCTION tasker.step_uuid_for(p_task uuid, p_name text)
 RETURNS uuid
 LANGUAGE sql
 IMMUTABLE PARALLEL SAFE
AS $function$
  SELECT (left(replace(p_task::text, '-', ''), 16)
          || substr('89ab', (('x' || substr(h, 1, 1))::bit(4)::int % 4) + 1, 1)
          || substr(h, 2, 15))::uuid
  FROM (SELECT md5(p_task::text || '/' || p_name) AS h) d
$function$;
