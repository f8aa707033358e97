-- Dynamic workflows (issue 5): decision points, deferred convergence, batch processing with checkpoints.
--
-- Every step of a task except batch_worker blueprints is created with the task, as before. What changes at run
-- time is which of them run:
-- * a completed `decision` step's outcome names the branches (its dependents) that run; the others move to the
--   new terminal state `skipped`, and so does everything that depends on a skipped step, except
--   `deferred_convergence` steps, which wait only for the parents that were not skipped (and are skipped
--   themselves when all their parents were). An invalid outcome fails the decision step (INVALID_DECISION).
-- * a completed `batchable` step's outcome says how many items there are; its batch_worker blueprint is then
--   instantiated once per batch (`<worker>_000`, ...), each with its cursor range in inputs.__batch, between the
--   batchable step and the convergence step. At creation the convergence step gets an edge from the batchable
--   step standing in for the blueprint, so zero batches release it at once and a skipped batchable step skips it.
-- * with batch_config.failure_strategy = continue, a permanently failed batch worker ends in `error` but
--   releases the convergence step and does not fail the task (`tolerate_failure`).
-- * batch workers save checkpoints (tasker.checkpoint_step) that a retried attempt receives from claim_steps.

INSERT INTO tasker.step_states (state, terminal) VALUES ('skipped', true) ON CONFLICT (state) DO NOTHING;
INSERT INTO tasker.step_state_transitions (from_state, to_state) VALUES ('pending', 'skipped')
ON CONFLICT DO NOTHING;

ALTER TABLE tasker.template_steps
  ADD COLUMN IF NOT EXISTS step_type text NOT NULL DEFAULT 'standard'
    CHECK (step_type IN ('standard', 'decision', 'deferred_convergence', 'batchable', 'batch_worker')),
  ADD COLUMN IF NOT EXISTS batch_config jsonb;
ALTER TABLE tasker.workflow_steps
  ADD COLUMN IF NOT EXISTS step_type text NOT NULL DEFAULT 'standard'
    CHECK (step_type IN ('standard', 'decision', 'deferred_convergence', 'batchable', 'batch_worker')),
  -- Parents released by being skipped (deferred convergence steps only).
  ADD COLUMN IF NOT EXISTS skipped_parents int NOT NULL DEFAULT 0,
  -- A permanent failure of this step neither fails the task nor holds back its dependents (batch `continue`).
  ADD COLUMN IF NOT EXISTS tolerate_failure boolean NOT NULL DEFAULT false,
  -- The last checkpoint a batch worker saved: { cursor, ..., saved_at, attempt }.
  ADD COLUMN IF NOT EXISTS checkpoint jsonb;
