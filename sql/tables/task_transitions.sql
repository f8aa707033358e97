-- Generated from the catalog of a database migrated from scratch (npm run schema:dump); do not edit.
-- The current shape of this table; its history is in migrations/.

CREATE TABLE tasker.task_transitions (
  task_uuid uuid NOT NULL,
  from_state text,
  to_state text NOT NULL,
  event text NOT NULL,
  sort_key integer NOT NULL,
  metadata jsonb,
  processor text,
  created_at timestamp with time zone NOT NULL DEFAULT now(),
  CONSTRAINT task_transitions_pkey PRIMARY KEY (task_uuid, sort_key),
  CONSTRAINT task_transitions_check CHECK (tasker.is_allowed_task_transition(from_state, to_state))
);
