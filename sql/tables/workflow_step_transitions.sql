-- Generated from the catalog of a database migrated from scratch (npm run schema:dump); do not edit.
-- The current shape of this table; its history is in migrations/.

CREATE TABLE tasker.workflow_step_transitions (
  step_uuid uuid NOT NULL,
  from_state text,
  to_state text NOT NULL,
  event text NOT NULL,
  sort_key integer NOT NULL,
  metadata jsonb,
  processor text,
  created_at timestamp with time zone NOT NULL DEFAULT now(),
  CONSTRAINT workflow_step_transitions_pkey PRIMARY KEY (step_uuid, sort_key),
  CONSTRAINT workflow_step_transitions_check CHECK (tasker.is_allowed_step_transition(from_state, to_state))
);
