-- Version 19: functions are defined by sql/functions/<name>.sql, applied by `tasker migrate` when their content
-- changes (docs/adr/0007-sql-layout.md). The per-step planner settings are part of each function's definition
-- now, so the helper that re-applied them after every redefinition goes.
DROP FUNCTION IF EXISTS tasker.apply_hot_path_settings(text[]);
