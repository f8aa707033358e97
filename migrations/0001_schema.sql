-- Tasker schema: registry (namespaces, templates), runtime (tasks, steps, edges), audit (transitions) and queues.
-- Every statement is idempotent so that re-running the migration is harmless.

CREATE SCHEMA IF NOT EXISTS tasker;

-- ---------------------------------------------------------------------------------------------------------
-- State machines, mirrored from src/state (a test checks the two agree). The tables document the machines; the
-- CHECK constraints below enforce them on every row. CHECKs rather than foreign keys: a foreign key check takes
-- a KEY SHARE row lock on the referenced row, and every step of every task would contend for the same few
-- rows ('complete', 'enqueued' ...), which measurably serialized the per-step path.
-- ---------------------------------------------------------------------------------------------------------
CREATE TABLE IF NOT EXISTS tasker.task_states (state text PRIMARY KEY, terminal boolean NOT NULL);
CREATE TABLE IF NOT EXISTS tasker.step_states (state text PRIMARY KEY, terminal boolean NOT NULL);

INSERT INTO tasker.task_states (state, terminal) VALUES
  ('pending', false), ('initializing', false), ('enqueuing_steps', false), ('steps_in_process', false),
  ('evaluating_results', false), ('waiting_for_dependencies', false), ('waiting_for_retry', false),
  ('blocked_by_failures', false), ('complete', true), ('error', false), ('cancelled', true),
  ('resolved_manually', true)
ON CONFLICT (state) DO NOTHING;

INSERT INTO tasker.step_states (state, terminal) VALUES
  ('pending', false), ('enqueued', false), ('in_progress', false), ('enqueued_for_orchestration', false),
  ('enqueued_as_error_for_orchestration', false), ('waiting_for_retry', false), ('complete', true),
  ('error', false), ('cancelled', true), ('resolved_manually', true)
ON CONFLICT (state) DO NOTHING;

CREATE TABLE IF NOT EXISTS tasker.task_state_transitions (
  from_state text NOT NULL REFERENCES tasker.task_states,
  to_state   text NOT NULL REFERENCES tasker.task_states,
  PRIMARY KEY (from_state, to_state)
);
CREATE TABLE IF NOT EXISTS tasker.step_state_transitions (
  from_state text NOT NULL REFERENCES tasker.step_states,
  to_state   text NOT NULL REFERENCES tasker.step_states,
  PRIMARY KEY (from_state, to_state)
);

INSERT INTO tasker.task_state_transitions (from_state, to_state) VALUES
  ('pending', 'initializing'),
  ('initializing', 'enqueuing_steps'), ('initializing', 'complete'), ('initializing', 'waiting_for_dependencies'),
  ('enqueuing_steps', 'steps_in_process'), ('enqueuing_steps', 'error'),
  ('steps_in_process', 'evaluating_results'),
  ('evaluating_results', 'complete'), ('evaluating_results', 'enqueuing_steps'),
  ('evaluating_results', 'steps_in_process'), ('evaluating_results', 'waiting_for_dependencies'),
  ('evaluating_results', 'waiting_for_retry'), ('evaluating_results', 'blocked_by_failures'),
  ('waiting_for_dependencies', 'evaluating_results'),
  ('waiting_for_retry', 'enqueuing_steps'),
  ('blocked_by_failures', 'error'), ('blocked_by_failures', 'resolved_manually'),
  ('blocked_by_failures', 'evaluating_results'),
  ('error', 'evaluating_results'), ('waiting_for_retry', 'evaluating_results'),
  ('pending', 'cancelled'), ('initializing', 'cancelled'), ('enqueuing_steps', 'cancelled'),
  ('steps_in_process', 'cancelled'), ('evaluating_results', 'cancelled'),
  ('waiting_for_dependencies', 'cancelled'), ('waiting_for_retry', 'cancelled'),
  ('blocked_by_failures', 'cancelled')
ON CONFLICT DO NOTHING;

INSERT INTO tasker.step_state_transitions (from_state, to_state) VALUES
  ('pending', 'enqueued'), ('enqueued', 'in_progress'),
  ('in_progress', 'enqueued_for_orchestration'), ('in_progress', 'enqueued_as_error_for_orchestration'),
  ('in_progress', 'enqueued'),
  ('enqueued_for_orchestration', 'complete'), ('enqueued_for_orchestration', 'error'),
  ('enqueued_as_error_for_orchestration', 'waiting_for_retry'), ('enqueued_as_error_for_orchestration', 'error'),
  ('waiting_for_retry', 'pending'), ('error', 'pending')
ON CONFLICT DO NOTHING;

-- Operator and cancel transitions from every non-terminal step state.
INSERT INTO tasker.step_state_transitions (from_state, to_state)
SELECT s.state, t.target
FROM tasker.step_states s
CROSS JOIN (VALUES ('cancelled'), ('resolved_manually'), ('complete')) AS t(target)
WHERE NOT s.terminal
ON CONFLICT DO NOTHING;

-- ---------------------------------------------------------------------------------------------------------
-- Registry
-- ---------------------------------------------------------------------------------------------------------
CREATE TABLE IF NOT EXISTS tasker.namespaces (
  namespace_uuid uuid PRIMARY KEY DEFAULT tasker.uuid_generate_v7(),
  name           varchar(29) NOT NULL UNIQUE CHECK (name ~ '^[A-Za-z_][A-Za-z0-9_]*$'),
  created_at     timestamptz NOT NULL DEFAULT now()
);

-- A template version is immutable once registered: re-registering the same content is a no-op, different
-- content under the same version is refused (running tasks never change under their feet).
CREATE TABLE IF NOT EXISTS tasker.templates (
  template_uuid     uuid PRIMARY KEY DEFAULT tasker.uuid_generate_v7(),
  namespace_uuid    uuid NOT NULL REFERENCES tasker.namespaces,
  namespace         varchar(29) NOT NULL,
  name              varchar(64) NOT NULL,
  version           varchar(64) NOT NULL,
  description       text,
  definition        jsonb NOT NULL,
  definition_sha256 text NOT NULL,
  identity_strategy text NOT NULL DEFAULT 'always_unique'
                    CHECK (identity_strategy IN ('strict', 'caller_provided', 'always_unique')),
  created_at        timestamptz NOT NULL DEFAULT now(),
  UNIQUE (namespace, name, version)
);

CREATE TABLE IF NOT EXISTS tasker.template_steps (
  template_uuid  uuid NOT NULL REFERENCES tasker.templates ON DELETE CASCADE,
  position       int NOT NULL,
  name           varchar(128) NOT NULL,
  handler        text NOT NULL,
  depends_on     text[] NOT NULL DEFAULT '{}',
  retryable      boolean NOT NULL,
  max_attempts   int NOT NULL CHECK (max_attempts BETWEEN 1 AND 100),
  retry_policy   jsonb NOT NULL,
  timeout_ms     int,
  inputs         jsonb,
  PRIMARY KEY (template_uuid, name),
  UNIQUE (template_uuid, position)
);

-- ---------------------------------------------------------------------------------------------------------
-- Runtime. The current state is kept on the row (for one-statement compare-and-swap and cheap reads) and every
-- change is also written to the transition tables, whose most_recent row always equals the row's state.
-- ---------------------------------------------------------------------------------------------------------
CREATE TABLE IF NOT EXISTS tasker.tasks (
  task_uuid             uuid PRIMARY KEY DEFAULT tasker.uuid_generate_v7(),
  template_uuid         uuid NOT NULL REFERENCES tasker.templates,
  namespace             varchar(29) NOT NULL,
  state                 text NOT NULL DEFAULT 'pending' CHECK (tasker.is_task_state(state)),
  context               jsonb NOT NULL CHECK (jsonb_typeof(context) = 'object'),
  priority              int NOT NULL DEFAULT 0,
  steps_total           int NOT NULL,
  -- steps not yet complete or resolved_manually: the task completes when this reaches 0
  steps_remaining       int NOT NULL,
  -- steps enqueued, in progress or waiting for orchestration
  steps_in_flight       int NOT NULL DEFAULT 0,
  initiator             text,
  source_system         text,
  reason                text,
  tags                  jsonb NOT NULL DEFAULT '[]',
  correlation_id        uuid NOT NULL,
  parent_correlation_id uuid,
  identity_hash         text NOT NULL,
  error                 jsonb,
  created_at            timestamptz NOT NULL DEFAULT now(),
  updated_at            timestamptz NOT NULL DEFAULT now(),
  completed_at          timestamptz
) WITH (fillfactor = 80);
CREATE UNIQUE INDEX IF NOT EXISTS tasks_identity_hash_key ON tasker.tasks (identity_hash);
CREATE INDEX IF NOT EXISTS tasks_template_idx ON tasker.tasks (template_uuid, created_at);
-- Listing by state and tags (the API); state changes a few times per task, so this costs little.
CREATE INDEX IF NOT EXISTS tasks_state_idx ON tasker.tasks (state, task_uuid);
CREATE INDEX IF NOT EXISTS tasks_tags_idx ON tasker.tasks USING gin (tags);
CREATE INDEX IF NOT EXISTS tasks_correlation_idx ON tasker.tasks (correlation_id);

CREATE TABLE IF NOT EXISTS tasker.workflow_steps (
  step_uuid         uuid PRIMARY KEY,
  task_uuid         uuid NOT NULL REFERENCES tasker.tasks ON DELETE CASCADE,
  name              varchar(128) NOT NULL,
  handler           text NOT NULL,
  state             text NOT NULL DEFAULT 'pending' CHECK (tasker.is_step_state(state)),
  -- parents not yet complete or resolved_manually: the step is ready when this reaches 0 (O(1) per edge)
  pending_parents   int NOT NULL DEFAULT 0 CHECK (pending_parents >= 0),
  attempts          int NOT NULL DEFAULT 0,
  max_attempts      int NOT NULL,
  retryable         boolean NOT NULL,
  retry_policy      jsonb NOT NULL,
  timeout_ms        int,
  inputs            jsonb,
  results           jsonb,
  next_retry_at     timestamptz,
  last_attempted_at timestamptz,
  processed_at      timestamptz,
  created_at        timestamptz NOT NULL DEFAULT now(),
  updated_at        timestamptz NOT NULL DEFAULT now(),
  UNIQUE (task_uuid, name)
) WITH (fillfactor = 80);
-- Indexes on workflow_steps never mention state (not even in a predicate), so the many state changes of a step
-- are HOT updates that touch no index; the free space left by fillfactor makes room for them.
CREATE INDEX IF NOT EXISTS workflow_steps_retry_due_idx ON tasker.workflow_steps (next_retry_at)
  WHERE next_retry_at IS NOT NULL;

CREATE TABLE IF NOT EXISTS tasker.workflow_step_edges (
  from_step_uuid uuid NOT NULL REFERENCES tasker.workflow_steps ON DELETE CASCADE,
  to_step_uuid   uuid NOT NULL REFERENCES tasker.workflow_steps ON DELETE CASCADE,
  name           text NOT NULL DEFAULT 'provides',
  PRIMARY KEY (from_step_uuid, to_step_uuid),
  CHECK (from_step_uuid <> to_step_uuid)
);
CREATE INDEX IF NOT EXISTS workflow_step_edges_to_idx ON tasker.workflow_step_edges (to_step_uuid);

-- Audit trail. The most_recent protocol: exactly one row per entity has most_recent = true (enforced by the
-- partial unique index), sort_key increases by one per transition (the primary key keeps it unique) and
-- from_state equals the previous to_state.
CREATE TABLE IF NOT EXISTS tasker.task_transitions (
  -- No foreign key to tasks (see the note on CHECKs above); rows are written only by the engine's functions.
  task_uuid     uuid NOT NULL,
  from_state    text,
  to_state      text NOT NULL,
  event         text NOT NULL,
  sort_key      int NOT NULL,
  most_recent   boolean NOT NULL,
  metadata      jsonb,
  processor     text,
  created_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (task_uuid, sort_key),
  CHECK (tasker.is_allowed_task_transition(from_state, to_state))
);
CREATE UNIQUE INDEX IF NOT EXISTS task_transitions_most_recent_key ON tasker.task_transitions (task_uuid) WHERE most_recent;

CREATE TABLE IF NOT EXISTS tasker.workflow_step_transitions (
  step_uuid     uuid NOT NULL,
  from_state    text,
  to_state      text NOT NULL,
  event         text NOT NULL,
  sort_key      int NOT NULL,
  most_recent   boolean NOT NULL,
  metadata      jsonb,
  processor     text,
  created_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (step_uuid, sort_key),
  CHECK (tasker.is_allowed_step_transition(from_state, to_state))
);
CREATE UNIQUE INDEX IF NOT EXISTS workflow_step_transitions_most_recent_key ON tasker.workflow_step_transitions (step_uuid) WHERE most_recent;

-- ---------------------------------------------------------------------------------------------------------
-- Queues (PGMQ-style). One table holds every logical queue so that all queue SQL is static (plans are cached,
-- no dynamic table names); queue_name keeps queues apart and leads every index.
-- ---------------------------------------------------------------------------------------------------------
CREATE TABLE IF NOT EXISTS tasker.queues (
  queue_name varchar(47) PRIMARY KEY CHECK (queue_name ~ '^[A-Za-z_][A-Za-z0-9_]*$'),
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS tasker.queue_messages (
  msg_id      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  -- No foreign key to queues: it would row-lock the queue's registry row on every send (see above).
  queue_name  varchar(47) NOT NULL,
  read_ct     int NOT NULL DEFAULT 0,
  enqueued_at timestamptz NOT NULL DEFAULT now(),
  vt          timestamptz NOT NULL DEFAULT now(),
  message     jsonb NOT NULL,
  headers     jsonb
) WITH (autovacuum_vacuum_scale_factor = 0.01, autovacuum_vacuum_threshold = 500, fillfactor = 90);
CREATE INDEX IF NOT EXISTS queue_messages_visible_idx ON tasker.queue_messages (queue_name, vt, msg_id);

CREATE TABLE IF NOT EXISTS tasker.queue_messages_archive (
  msg_id      bigint PRIMARY KEY,
  queue_name  varchar(47) NOT NULL,
  read_ct     int NOT NULL,
  enqueued_at timestamptz NOT NULL,
  archived_at timestamptz NOT NULL DEFAULT now(),
  vt          timestamptz NOT NULL,
  message     jsonb NOT NULL,
  headers     jsonb
);
CREATE INDEX IF NOT EXISTS queue_messages_archive_queue_idx ON tasker.queue_messages_archive (queue_name, archived_at);

-- ---------------------------------------------------------------------------------------------------------
-- Dead-letter queue: an investigation record per failed or stuck task (not a requeue mechanism). At most one
-- open (pending) entry per task; resolved entries are kept as history.
-- ---------------------------------------------------------------------------------------------------------
CREATE TABLE IF NOT EXISTS tasker.tasks_dlq (
  dlq_entry_uuid       uuid PRIMARY KEY DEFAULT tasker.uuid_generate_v7(),
  task_uuid            uuid NOT NULL REFERENCES tasker.tasks ON DELETE CASCADE,
  original_state       text NOT NULL,
  dlq_reason           text NOT NULL CHECK (dlq_reason IN ('staleness_timeout', 'max_retries_exceeded',
                         'permanent_failure', 'dependency_cycle_detected', 'worker_unavailable', 'manual_dlq')),
  resolution_status    text NOT NULL DEFAULT 'pending'
                         CHECK (resolution_status IN ('pending', 'manually_resolved', 'permanently_failed', 'cancelled')),
  resolution_timestamp timestamptz,
  resolution_notes     text,
  resolved_by          text,
  task_snapshot        jsonb NOT NULL,
  metadata             jsonb NOT NULL DEFAULT '{}',
  created_at           timestamptz NOT NULL DEFAULT now(),
  updated_at           timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX IF NOT EXISTS tasks_dlq_one_pending_per_task ON tasker.tasks_dlq (task_uuid)
  WHERE resolution_status = 'pending';
CREATE INDEX IF NOT EXISTS tasks_dlq_status_idx ON tasker.tasks_dlq (resolution_status, dlq_entry_uuid);
CREATE INDEX IF NOT EXISTS tasks_dlq_reason_idx ON tasker.tasks_dlq (dlq_reason, dlq_entry_uuid);
