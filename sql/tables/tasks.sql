-- Generated from the catalog of a database migrated from scratch (npm run schema:dump); do not edit.
-- The current shape of this table; its history is in migrations/.

CREATE TABLE tasker.tasks (
  task_uuid uuid NOT NULL DEFAULT tasker.uuid_generate_v7(),
  template_uuid uuid NOT NULL,
  namespace character varying(29) NOT NULL,
  state text NOT NULL DEFAULT 'pending'::text,
  context jsonb NOT NULL,
  priority integer NOT NULL DEFAULT 0,
  steps_total integer NOT NULL,
  steps_remaining integer NOT NULL,
  steps_in_flight integer NOT NULL DEFAULT 0,
  initiator text,
  source_system text,
  reason text,
  tags jsonb NOT NULL DEFAULT '[]'::jsonb,
  correlation_id uuid NOT NULL,
  parent_correlation_id uuid,
  identity_hash text NOT NULL,
  error jsonb,
  created_at timestamp with time zone NOT NULL DEFAULT now(),
  updated_at timestamp with time zone NOT NULL DEFAULT now(),
  completed_at timestamp with time zone,
  traceparent text,
  tracestate text,
  priority_head_start_ms bigint NOT NULL DEFAULT 0,
  CONSTRAINT tasks_pkey PRIMARY KEY (task_uuid),
  CONSTRAINT tasks_template_uuid_fkey FOREIGN KEY (template_uuid) REFERENCES tasker.templates(template_uuid),
  CONSTRAINT tasks_context_check CHECK (jsonb_typeof(context) = 'object'::text),
  CONSTRAINT tasks_state_check CHECK (tasker.is_task_state(state))
);
CREATE INDEX tasks_completed_at_idx ON tasker.tasks USING btree (completed_at) WHERE (completed_at IS NOT NULL);
CREATE INDEX tasks_correlation_idx ON tasker.tasks USING btree (correlation_id);
CREATE UNIQUE INDEX tasks_identity_hash_key ON tasker.tasks USING btree (identity_hash);
CREATE INDEX tasks_state_idx ON tasker.tasks USING btree (state, task_uuid);
CREATE INDEX tasks_tags_idx ON tasker.tasks USING gin (tags);
CREATE INDEX tasks_template_idx ON tasker.tasks USING btree (template_uuid, created_at);
