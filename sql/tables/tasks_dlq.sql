-- Generated from the catalog of a database migrated from scratch (npm run schema:dump); do not edit.
-- The current shape of this table; its history is in migrations/.

CREATE TABLE tasker.tasks_dlq (
  dlq_entry_uuid uuid NOT NULL DEFAULT tasker.uuid_generate_v7(),
  task_uuid uuid NOT NULL,
  original_state text NOT NULL,
  dlq_reason text NOT NULL,
  resolution_status text NOT NULL DEFAULT 'pending'::text,
  resolution_timestamp timestamp with time zone,
  resolution_notes text,
  resolved_by text,
  task_snapshot jsonb NOT NULL,
  metadata jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_at timestamp with time zone NOT NULL DEFAULT now(),
  updated_at timestamp with time zone NOT NULL DEFAULT now(),
  CONSTRAINT tasks_dlq_pkey PRIMARY KEY (dlq_entry_uuid),
  CONSTRAINT tasks_dlq_task_uuid_fkey FOREIGN KEY (task_uuid) REFERENCES tasker.tasks(task_uuid) ON DELETE CASCADE,
  CONSTRAINT tasks_dlq_dlq_reason_check CHECK (dlq_reason = ANY (ARRAY['staleness_timeout'::text, 'max_retries_exceeded'::text, 'permanent_failure'::text, 'dependency_cycle_detected'::text, 'worker_unavailable'::text, 'manual_dlq'::text])),
  CONSTRAINT tasks_dlq_resolution_status_check CHECK (resolution_status = ANY (ARRAY['pending'::text, 'manually_resolved'::text, 'permanently_failed'::text, 'cancelled'::text]))
);
CREATE UNIQUE INDEX tasks_dlq_one_pending_per_task ON tasker.tasks_dlq USING btree (task_uuid) WHERE (resolution_status = 'pending'::text);
CREATE INDEX tasks_dlq_reason_idx ON tasker.tasks_dlq USING btree (dlq_reason, dlq_entry_uuid);
CREATE INDEX tasks_dlq_status_idx ON tasker.tasks_dlq USING btree (resolution_status, dlq_entry_uuid);
