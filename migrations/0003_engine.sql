-- Version 3: the engine's per-step path (create_task, claim_steps, complete_steps, process_step_results,
-- enqueue_due_retries; definitions in sql/functions/) and the queue step results go through.
-- Custom SQLSTATEs: TK404 template not found, TK409 template conflict, TK422 invalid input, TK441 unknown queue.

SELECT tasker.create_queue('orchestration_step_results');
