-- PGMQ-style queue functions over tasker.queue_messages. A send notifies the queue's channel in the same
-- transaction, so listeners only ever hear about committed messages. Notifications are hints: consumers always
-- read the table, and a poller covers lost notifications.

-- The LISTEN channel of a queue (channel names are limited to 63 bytes; queue names to 47).
CREATE OR REPLACE FUNCTION tasker.queue_channel(p_queue text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT 'tasker_q_' || p_queue $$;

CREATE OR REPLACE FUNCTION tasker.create_queue(p_queue text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO tasker.queues (queue_name) VALUES (p_queue) ON CONFLICT (queue_name) DO NOTHING;
END $$;

-- Raises TK441 for a queue that was never created (sends must not vanish into an unknown queue).
CREATE OR REPLACE FUNCTION tasker.assert_queue(p_queue text) RETURNS void
LANGUAGE plpgsql STABLE AS $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM tasker.queues WHERE queue_name = p_queue) THEN
    RAISE EXCEPTION 'queue % does not exist', p_queue USING ERRCODE = 'TK441', HINT = 'Create it with create_queue first.';
  END IF;
END $$;

CREATE OR REPLACE FUNCTION tasker.send(p_queue text, p_message jsonb, p_delay_ms int DEFAULT 0, p_headers jsonb DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
  v_id bigint;
BEGIN
  PERFORM tasker.assert_queue(p_queue);
  INSERT INTO tasker.queue_messages (queue_name, vt, message, headers)
  VALUES (p_queue, now() + make_interval(secs => p_delay_ms / 1000.0), p_message, p_headers)
  RETURNING msg_id INTO v_id;
  PERFORM pg_notify(tasker.queue_channel(p_queue), '');
  RETURN v_id;
END $$;

CREATE OR REPLACE FUNCTION tasker.send_batch(p_queue text, p_messages jsonb[], p_delay_ms int DEFAULT 0)
RETURNS SETOF bigint
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM tasker.assert_queue(p_queue);
  RETURN QUERY
    INSERT INTO tasker.queue_messages (queue_name, vt, message)
    SELECT p_queue, now() + make_interval(secs => p_delay_ms / 1000.0), m FROM unnest(p_messages) AS m
    RETURNING msg_id;
  PERFORM pg_notify(tasker.queue_channel(p_queue), '');
END $$;

-- Claims up to p_qty visible messages: they stay invisible for p_vt_seconds and their read count goes up.
-- SKIP LOCKED lets any number of consumers read one queue without waiting on each other.
CREATE OR REPLACE FUNCTION tasker.read(p_queue text, p_vt_seconds double precision, p_qty int)
RETURNS SETOF tasker.queue_messages
LANGUAGE plpgsql AS $$
BEGIN
  RETURN QUERY
    WITH visible AS (
      SELECT msg_id FROM tasker.queue_messages
      WHERE queue_name = p_queue AND vt <= now()
      ORDER BY vt, msg_id
      LIMIT p_qty
      FOR UPDATE SKIP LOCKED
    )
    UPDATE tasker.queue_messages m
    SET vt = clock_timestamp() + make_interval(secs => p_vt_seconds), read_ct = m.read_ct + 1
    FROM visible
    WHERE m.msg_id = visible.msg_id
    RETURNING m.*;
END $$;

CREATE OR REPLACE FUNCTION tasker.delete(p_queue text, p_msg_ids bigint[]) RETURNS SETOF bigint
LANGUAGE plpgsql AS $$
BEGIN
  RETURN QUERY DELETE FROM tasker.queue_messages WHERE queue_name = p_queue AND msg_id = ANY(p_msg_ids) RETURNING msg_id;
END $$;

CREATE OR REPLACE FUNCTION tasker.archive(p_queue text, p_msg_ids bigint[]) RETURNS SETOF bigint
LANGUAGE plpgsql AS $$
BEGIN
  RETURN QUERY
    WITH moved AS (
      DELETE FROM tasker.queue_messages WHERE queue_name = p_queue AND msg_id = ANY(p_msg_ids) RETURNING *
    )
    INSERT INTO tasker.queue_messages_archive (msg_id, queue_name, read_ct, enqueued_at, vt, message, headers)
    SELECT msg_id, queue_name, read_ct, enqueued_at, vt, message, headers FROM moved
    RETURNING msg_id;
END $$;

-- Sets the visibility timeout of messages to now + p_vt_seconds (0 makes them visible at once).
CREATE OR REPLACE FUNCTION tasker.set_vt(p_queue text, p_msg_ids bigint[], p_vt_seconds double precision)
RETURNS SETOF bigint
LANGUAGE plpgsql AS $$
BEGIN
  RETURN QUERY
    UPDATE tasker.queue_messages SET vt = clock_timestamp() + make_interval(secs => p_vt_seconds)
    WHERE queue_name = p_queue AND msg_id = ANY(p_msg_ids)
    RETURNING msg_id;
END $$;

CREATE OR REPLACE FUNCTION tasker.queue_metrics(p_queue text DEFAULT NULL)
RETURNS TABLE (queue_name text, queue_length bigint, visible_length bigint, oldest_msg_age_seconds double precision)
LANGUAGE sql STABLE AS $$
  SELECT q.queue_name::text,
         count(m.msg_id),
         count(m.msg_id) FILTER (WHERE m.vt <= now()),
         coalesce(extract(epoch FROM now() - min(m.enqueued_at)), 0)::double precision
  FROM tasker.queues q
  LEFT JOIN tasker.queue_messages m ON m.queue_name = q.queue_name
  WHERE p_queue IS NULL OR q.queue_name = p_queue
  GROUP BY q.queue_name
  ORDER BY q.queue_name
$$;
