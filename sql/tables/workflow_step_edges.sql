-- Generated from the catalog of a database migrated from scratch (npm run schema:dump); do not edit.
-- The current shape of this table; its history is in migrations/.

CREATE TABLE tasker.workflow_step_edges (
  from_step_uuid uuid NOT NULL,
  to_step_uuid uuid NOT NULL,
  name text NOT NULL DEFAULT 'provides'::text,
  CONSTRAINT workflow_step_edges_pkey PRIMARY KEY (from_step_uuid, to_step_uuid),
  CONSTRAINT workflow_step_edges_check CHECK (from_step_uuid <> to_step_uuid)
);
CREATE INDEX workflow_step_edges_to_idx ON tasker.workflow_step_edges USING btree (to_step_uuid);
