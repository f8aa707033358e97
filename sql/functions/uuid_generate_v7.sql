-- UUIDv7 without extensions (PostgreSQL 15-18): 48-bit millisecond timestamp over a random v4 UUID, with the
-- version nibble switched from 4 (0100) to 7 (0111). The variant bits of the v4 UUID are already right.
CREATE OR REPLACE FUNCTION tasker.uuid_generate_v7()
 RETURNS uuid
 LANGUAGE sql
 PARALLEL SAFE
AS $function$
  SELECT encode(
    set_bit(set_bit(
      overlay(uuid_send(gen_random_uuid())
              PLACING substring(int8send(floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint) FROM 3)
              FROM 1 FOR 6),
      52, 1), 53, 1),
    'hex')::uuid
$function$;
