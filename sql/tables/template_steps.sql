-- Generated from the catalog of a database migrated from scratch (npm run schema:dump); do not edit.
-- The current shape of this table; its history is in migrations/.

CREATE TABLE tasker.template_steps (
  template_uuid uuid NOT NULL,
  position integer NOT NULL,
  name character varying(128) NOT NULL,
  handler text NOT NULL,
  depends_on text[] NOT NULL DEFAULT '{}'::text[],
  retryable boolean NOT NULL,
  max_attempts integer NOT NULL,
  retry_policy jsonb NOT NULL,
  timeout_ms integer,
  inputs jsonb,
  step_type text NOT NULL DEFAULT 'standard'::text,
  batch_config jsonb,
  CONSTRAINT template_steps_pkey PRIMARY KEY (template_uuid, name),
  CONSTRAINT template_steps_template_uuid_position_key UNIQUE (template_uuid, "position"),
  CONSTRAINT template_steps_template_uuid_fkey FOREIGN KEY (template_uuid) REFERENCES tasker.templates(template_uuid) ON DELETE CASCADE,
  CONSTRAINT template_steps_max_attempts_check CHECK (max_attempts >= 1 AND max_attempts <= 100),
  CONSTRAINT template_steps_step_type_check CHECK (step_type = ANY (ARRAY['standard'::text, 'decision'::text, 'deferred_convergence'::text, 'batchable'::text, 'batch_worker'::text]))
);
