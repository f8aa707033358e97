/**
 * A task: its DAG coloured by step state and its timeline, both live over the event stream; a click on a step
 * opens the step panel (inputs, results, errors, audit trail, operator actions). Operators can cancel the task.
 */
import { useMemo, useState } from 'preact/hooks';
import type { TaskBody, TransitionBody } from '../api-types.js';
import { ConfirmDialog } from '../components/confirm-dialog.js';
import { DagView } from '../components/dag-view.js';
import { ErrorNote } from '../components/error-note.js';
import { JsonBlock } from '../components/json-block.js';
import { StateBadge } from '../components/state-badge.js';
import { StepPanel } from '../components/step-panel.js';
import { TimelineView } from '../components/timeline-view.js';
import { dagOfSteps, layoutDag } from '../dag-layout.js';
import { formatDuration, formatTime, plural } from '../format.js';
import { navigate, useNow } from '../hooks.js';
import { can } from '../permissions.js';
import { taskHref, templateHref } from '../router.js';
import { useSession } from '../session.js';
import { FINISHED_TASK_STATES, TONE_LEGEND } from '../states.js';
import { useLiveTask } from '../task-live.js';
import { buildTimeline } from '../timeline.js';

/** Step states that count as done in the header's progress (as the engine counts them). */
const DONE_STEP_STATES: ReadonlySet<string> = new Set(['complete', 'resolved_manually', 'skipped']);

function CancelTask({ task, onDone }: { task: TaskBody; onDone: () => void }) {
  const { api, principal } = useSession();
  const [open, setOpen] = useState(false);
  if (!can(principal, 'cancelTask') || FINISHED_TASK_STATES.has(task.state)) return null;
  const unfinished = task.steps.filter(
    (s) => !['complete', 'error', 'cancelled', 'resolved_manually', 'skipped'].includes(s.state),
  ).length;
  return (
    <>
      <button type="button" class="btn btn-danger-ghost" onClick={() => setOpen(true)}>
        Cancel task
      </button>
      {open ? (
        <ConfirmDialog
          title="Cancel this task?"
          confirmLabel="Cancel task"
          danger
          onClose={() => setOpen(false)}
          onConfirm={async (reason) => {
            await api.cancelTask(task.task_uuid, reason);
            onDone();
          }}
        >
          <p class="confirm-summary">
            <strong>{task.name}</strong> ends as cancelled: its {plural(unfinished, 'unfinished step')} become
            cancelled and running handlers are told to stop. Finished steps keep their results.
          </p>
        </ConfirmDialog>
      ) : null}
    </>
  );
}

function Legend() {
  return (
    <div class="legend">
      {TONE_LEGEND.map((l) => (
        <span key={l.tone} class={`legend-item tone-${l.tone}`}>
          <span class="dot" />
          {l.label}
        </span>
      ))}
    </div>
  );
}

function TaskHeader({
  task,
  now,
  streaming,
  onCancelled,
}: {
  task: TaskBody;
  now: number;
  streaming: boolean;
  onCancelled: () => void;
}) {
  // The clock of this page ticks once a second: never show a running task younger than zero.
  const end = task.completed_at ? Date.parse(task.completed_at) : Math.max(now, Date.parse(task.created_at));
  // Counted from the live step states, which the event stream updates before the task is re-read.
  const done = task.steps.filter((s) => DONE_STEP_STATES.has(s.state)).length;
  return (
    <header class="task-head card">
      <div class="task-title">
        <div>
          <div class="crumbs">
            <a href="#/tasks">Tasks</a> /{' '}
            <a href={templateHref(task.namespace, task.name, task.version)}>
              {task.namespace}/{task.name}
            </a>{' '}
            <span class="muted">v{task.version}</span>
          </div>
          <h1>
            <span data-testid="task-state">
              <StateBadge state={task.state} />
            </span>{' '}
            <span class="mono task-id">{task.task_uuid}</span>
          </h1>
        </div>
        <div class="task-head-actions">
          {streaming ? <span class="live">live</span> : null}
          <CancelTask task={task} onDone={onCancelled} />
        </div>
      </div>
      <dl class="facts facts-inline">
        <dt>Steps</dt>
        <dd>
          {done} / {task.steps.length} done
        </dd>
        <dt>Created</dt>
        <dd>{formatTime(task.created_at)}</dd>
        <dt>Duration</dt>
        <dd>{formatDuration(end - Date.parse(task.created_at))}</dd>
        <dt>Priority</dt>
        <dd>{task.priority}</dd>
        {task.tags.length > 0 ? (
          <>
            <dt>Tags</dt>
            <dd>{task.tags.join(', ')}</dd>
          </>
        ) : null}
        {task.initiator ? (
          <>
            <dt>Initiator</dt>
            <dd>{task.initiator}</dd>
          </>
        ) : null}
      </dl>
      {task.error?.error ? (
        <p class="error-note">
          <strong>{task.error.step_name ?? 'A step'}</strong> failed: {task.error.error.message}
        </p>
      ) : null}
      <details>
        <summary>Context</summary>
        <JsonBlock value={task.context} />
      </details>
    </header>
  );
}

export function TaskPage({ taskUuid, stepUuid }: { taskUuid: string; stepUuid: string | undefined }) {
  const { api } = useSession();
  const live = useLiveTask(api, taskUuid);
  const now = useNow(1000);
  const task = live.task;
  // The layout depends on the graph's shape only: state changes recolour nodes without a new layout.
  const shape = task?.steps.map((s) => `${s.step_uuid}:${s.depends_on.join(',')}`).join(';') ?? '';
  const layout = useMemo(
    () => (task ? layoutDag(dagOfSteps(task.steps.map((s) => ({ ...s, id: s.step_uuid })))) : undefined),
    [shape],
  );
  const trails = useMemo(() => {
    const byStep = new Map<string, TransitionBody[]>();
    for (const t of live.transitions) {
      if (t.step_uuid !== null) byStep.set(t.step_uuid, [...(byStep.get(t.step_uuid) ?? []), t]);
    }
    return byStep;
  }, [live.transitions]);
  const timeline = useMemo(
    () => buildTimeline(live.transitions, now, task ? FINISHED_TASK_STATES.has(task.state) : false),
    [live.transitions, now, task?.state],
  );
  if (!task) {
    return (
      <section class="page">
        <ErrorNote error={live.error} what="load the task" />
        {live.error ? null : <p class="muted">Loading…</p>}
      </section>
    );
  }
  const stateById = new Map(task.steps.map((s) => [s.step_uuid, s]));
  const colouredLayout = layout && {
    ...layout,
    nodes: layout.nodes.map((n) => {
      const s = stateById.get(n.id);
      return s ? { ...n, state: s.state, note: s.attempts > 1 ? `${s.attempts} attempts` : undefined } : n;
    }),
  };
  const selected = stepUuid ? stateById.get(stepUuid) : undefined;
  const select = (id: string | undefined) => navigate(taskHref(taskUuid, id), true);
  return (
    <section
      class={`page task-page${selected ? ' with-panel' : ''}`}
      data-page="task"
      data-task-state={task.state}
    >
      <div class="task-main">
        <TaskHeader task={task} now={now} streaming={live.streaming} onCancelled={live.refresh} />
        <ErrorNote error={live.error} what="refresh the task" />
        <div class="card">
          <div class="card-head">
            <h2>Graph</h2>
            <Legend />
          </div>
          {colouredLayout ? (
            <DagView
              layout={colouredLayout}
              selectedId={selected?.step_uuid}
              onSelect={(id) => select(id)}
              label={`Steps of task ${task.task_uuid}`}
            />
          ) : null}
        </div>
        <div class="card">
          <div class="card-head">
            <h2>Timeline</h2>
            <span class="muted">one bar per attempt · amber: waiting for retry · light: queued</span>
          </div>
          <TimelineView
            timeline={timeline}
            order={task.steps.map((s) => s.step_uuid)}
            selectedId={selected?.step_uuid}
            onSelect={(id) => select(id)}
          />
        </div>
      </div>
      {selected ? (
        <StepPanel
          taskUuid={taskUuid}
          step={selected}
          steps={task.steps}
          trail={trails.get(selected.step_uuid) ?? []}
          onClose={() => select(undefined)}
          onActed={live.refresh}
        />
      ) : null}
    </section>
  );
}
