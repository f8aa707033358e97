-- Generated from the catalog of a database migrated from scratch (npm run schema:dump); do not edit.
-- The current shape of this table; its history is in migrations/.

CREATE TABLE tasker.task_state_transitions (
  from_state text NOT NULL,
  to_state text NOT NULL,
  CONSTRAINT task_state_transitions_pkey PRIMARY KEY (from_state, to_state),
  CONSTRAINT task_state_transitions_from_state_fkey FOREIGN KEY (from_state) REFERENCES tasker.task_states(state),
  CONSTRAINT task_state_transitions_to_state_fkey FOREIGN KEY (to_state) REFERENCES tasker.task_states(state)
);
