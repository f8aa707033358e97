-- Version 20: the web dashboard. An operator may re-run a task from one of its steps (tasker.rerun_from_step):
-- a finished task goes back to evaluating its steps, and that step and everything below it back to pending,
-- whatever state they ended in. Finished tasks are counted by the time they finished (the overview's time
-- series), through an index that holds finished tasks only: a running task's updates never touch it.
INSERT INTO tasker.task_state_transitions (from_state, to_state) VALUES
  ('complete', 'evaluating_results'), ('resolved_manually', 'evaluating_results')
ON CONFLICT DO NOTHING;

INSERT INTO tasker.step_state_transitions (from_state, to_state) VALUES
  ('complete', 'pending'), ('cancelled', 'pending'), ('resolved_manually', 'pending'), ('skipped', 'pending')
ON CONFLICT DO NOTHING;

CREATE INDEX IF NOT EXISTS tasks_completed_at_idx ON tasker.tasks (completed_at) WHERE completed_at IS NOT NULL;
