-- Generated from the catalog of a database migrated from scratch (npm run schema:dump); do not edit.
-- The current shape of this table; its history is in migrations/.

CREATE TABLE tasker.step_states (
  state text NOT NULL,
  terminal boolean NOT NULL,
  CONSTRAINT step_states_pkey PRIMARY KEY (state)
);
