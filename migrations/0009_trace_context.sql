-- Trace context (OpenTelemetry, W3C Trace Context) on tasks and in their step messages, so one task is one
-- trace across processes: the task keeps the `traceparent` (and `tracestate`) of the span that created it,
-- every step message sent for it carries them, and claim_steps hands them to the worker, which parents its
-- `step.execute` span on them. The context travels through the database and the queue only.
-- With tracing off the columns stay NULL and the messages are exactly those of 0003 (no extra keys).
-- create_task takes the context from p_options ({traceparent, tracestate}), so its signature is unchanged.

ALTER TABLE tasker.tasks ADD COLUMN IF NOT EXISTS traceparent text NULL;
ALTER TABLE tasker.tasks ADD COLUMN IF NOT EXISTS tracestate text NULL;
