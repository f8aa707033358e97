-- Task priorities with aging (issue 5). A step message of a higher-priority task gets a head start: its
-- visibility time is back-dated by
--   head_start_ms = (priority - priority_min) * priority_head_start_ms_per_level
-- so claims, which already read `ORDER BY vt, msg_id` through queue_messages_visible_idx, take it before messages
-- of lower-priority tasks enqueued up to (p_high - p_low) * per_level ms earlier, at no extra cost per claim.
-- Aging comes with it: a message enqueued at T is never overtaken by a message enqueued after
-- T + (max - min) * per_level, so a low-priority step waits at most that long behind later high-priority work
-- (the starvation bound, see docs/architecture.md "Priorities and aging").
-- The head start is computed once, at creation, and kept on the task (priority_head_start_ms), so every message
-- sent for the task later (dependents, retries, operator retries: all through send_step_messages) carries it
-- without a new parameter on any caller. Only step messages are back-dated: result and domain-event messages,
-- lease extensions and releases set vt as before.
-- create_task takes the settings from p_options ({priority, priority_min, priority_max,
-- priority_head_start_ms_per_level}, from `orchestration.priority`), so its signature is unchanged.

ALTER TABLE tasker.tasks ADD COLUMN IF NOT EXISTS priority_head_start_ms bigint NOT NULL DEFAULT 0;
