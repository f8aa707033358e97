-- Generated from the catalog of a database migrated from scratch (npm run schema:dump); do not edit.
-- The current shape of this table; its history is in migrations/.

CREATE TABLE tasker.queues (
  queue_name character varying(47) NOT NULL,
  created_at timestamp with time zone NOT NULL DEFAULT now(),
  CONSTRAINT queues_pkey PRIMARY KEY (queue_name),
  CONSTRAINT queues_queue_name_check CHECK (queue_name::text ~ '^[A-Za-z_][A-Za-z0-9_]*$'::text)
);
