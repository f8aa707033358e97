-- Planner settings of the engine's per-step functions, in one place: tasker.apply_hot_path_settings(names)
-- (re)applies them to every function of those names (CREATE OR REPLACE resets a function's settings, so a
-- migration that redefines one calls this afterwards). The settings:
-- * plan_cache_mode = force_generic_plan, enable_seqscan/mergejoin/hashjoin = off: plans are made once per
--   connection and stay index-driven however large the tables are (see the end of 0003);
-- * jit = off (new here): right after a burst the tables have no statistics yet, the planner estimated millions
--   of rows for claim_steps' ancestors query and JIT-compiled every claim: 360-460 ms per claim of 100 steps
--   instead of 5-9 ms (bench/burst.ts, 20,000 queued tasks). These functions touch a bounded set of rows by
--   key, so compiling never pays.
CREATE OR REPLACE FUNCTION tasker.apply_hot_path_settings(p_names text[]) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  f regprocedure;
BEGIN
  FOR f IN
    SELECT p.oid::regprocedure FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
    WHERE n.nspname = 'tasker' AND p.proname = ANY(p_names)
  LOOP
    EXECUTE format('ALTER FUNCTION %s SET plan_cache_mode = force_generic_plan', f);
    EXECUTE format('ALTER FUNCTION %s SET enable_seqscan = off', f);
    EXECUTE format('ALTER FUNCTION %s SET enable_mergejoin = off', f);
    EXECUTE format('ALTER FUNCTION %s SET enable_hashjoin = off', f);
    EXECUTE format('ALTER FUNCTION %s SET jit = off', f);
  END LOOP;
END $$;

SELECT tasker.apply_hot_path_settings(ARRAY['log_step_transitions', 'log_task_transitions', 'move_tasks',
  'send_step_messages', 'create_task', 'claim_steps', 'complete_steps', 'resolve_steps', 'process_step_results',
  'enqueue_due_retries', 'record_failed_tasks', 'checkpoint_step']);
