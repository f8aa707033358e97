-- Generated from the catalog of a database migrated from scratch (npm run schema:dump); do not edit.
-- The current shape of this table; its history is in migrations/.

CREATE TABLE tasker.queue_messages (
  msg_id bigint NOT NULL,
  queue_name character varying(47) NOT NULL,
  read_ct integer NOT NULL DEFAULT 0,
  enqueued_at timestamp with time zone NOT NULL DEFAULT now(),
  vt timestamp with time zone NOT NULL DEFAULT now(),
  message jsonb NOT NULL,
  headers jsonb,
  CONSTRAINT queue_messages_pkey PRIMARY KEY (msg_id)
);
CREATE INDEX queue_messages_visible_idx ON tasker.queue_messages USING btree (queue_name, vt, msg_id);
