-- Version 22: audit rows are only appended (ADR 0013). A step's or task's current audit row is its last by
-- sort_key, found through the primary key, instead of the one flagged most_recent: moving the flag rewrote the
-- previous row (a new row version and index entry) on every transition. The partial unique indexes on the flag go
-- with the column.
ALTER TABLE tasker.workflow_step_transitions DROP COLUMN IF EXISTS most_recent;
ALTER TABLE tasker.task_transitions DROP COLUMN IF EXISTS most_recent;
