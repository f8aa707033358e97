-- Generated from the catalog of a database migrated from scratch (npm run schema:dump); do not edit.
-- The current shape of this table; its history is in migrations/.

CREATE TABLE tasker.queue_messages_archive (
  msg_id bigint NOT NULL,
  queue_name character varying(47) NOT NULL,
  read_ct integer NOT NULL,
  enqueued_at timestamp with time zone NOT NULL,
  archived_at timestamp with time zone NOT NULL DEFAULT now(),
  vt timestamp with time zone NOT NULL,
  message jsonb NOT NULL,
  headers jsonb,
  CONSTRAINT queue_messages_archive_pkey PRIMARY KEY (msg_id)
);
CREATE INDEX queue_messages_archive_queue_idx ON tasker.queue_messages_archive USING btree (queue_name, archived_at);
