-- Generated from the catalog of a database migrated from scratch (npm run schema:dump); do not edit.
-- The current shape of this table; its history is in migrations/.

CREATE TABLE tasker.workflow_steps (
  step_uuid uuid NOT NULL,
  task_uuid uuid NOT NULL,
  name character varying(128) NOT NULL,
  handler text NOT NULL,
  state text NOT NULL DEFAULT 'pending'::text,
  pending_parents integer NOT NULL DEFAULT 0,
  attempts integer NOT NULL DEFAULT 0,
  max_attempts integer NOT NULL,
  retryable boolean NOT NULL,
  retry_policy jsonb NOT NULL,
  timeout_ms integer,
  inputs jsonb,
  results jsonb,
  next_retry_at timestamp with time zone,
  last_attempted_at timestamp with time zone,
  processed_at timestamp with time zone,
  created_at timestamp with time zone NOT NULL DEFAULT now(),
  updated_at timestamp with time zone NOT NULL DEFAULT now(),
  step_type text NOT NULL DEFAULT 'standard'::text,
  skipped_parents integer NOT NULL DEFAULT 0,
  tolerate_failure boolean NOT NULL DEFAULT false,
  checkpoint jsonb,
  CONSTRAINT workflow_steps_pkey PRIMARY KEY (step_uuid),
  CONSTRAINT workflow_steps_task_uuid_name_key UNIQUE (task_uuid, name),
  CONSTRAINT workflow_steps_pending_parents_check CHECK (pending_parents >= 0),
  CONSTRAINT workflow_steps_state_check CHECK (tasker.is_step_state(state)),
  CONSTRAINT workflow_steps_step_type_check CHECK (step_type = ANY (ARRAY['standard'::text, 'decision'::text, 'deferred_convergence'::text, 'batchable'::text, 'batch_worker'::text]))
);
CREATE INDEX workflow_steps_retry_due_idx ON tasker.workflow_steps USING btree (next_retry_at) WHERE (next_retry_at IS NOT NULL);
