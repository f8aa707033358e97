/**
 * The step panel of a task page: the step's facts, operator actions, its error (with stack for operators) and
 * result, every attempt when the server reports them, inputs and checkpoints, and the audit trail of its
 * transitions (operator actions with who and why).
 */
import type { StepBody, StepDetailBody, StepErrorBody, TransitionBody } from '../api-types.js';
import { formatClock, formatDuration, formatTime } from '../format.js';
import { useLoad } from '../hooks.js';
import { useSession } from '../session.js';
import { stateLabel } from '../states.js';
import { extrasOf } from '../step-detail.js';
import { operatorLabel } from '../timeline.js';
import { ErrorNote } from './error-note.js';
import { JsonBlock } from './json-block.js';
import { StateBadge } from './state-badge.js';
import { StepActions } from './step-actions.js';

function StepError({ error }: { error: StepErrorBody | null | undefined }) {
  if (!error) return null;
  return (
    <div class="step-error" data-testid="step-error">
      <div class="step-error-head">
        {error.name ? <strong>{error.name}</strong> : null}
        {error.code ? <span class="tag">{error.code}</span> : null}
        {error.retryable === false ? <span class="tag">not retryable</span> : null}
      </div>
      <p class="step-error-message">{error.message}</p>
      {error.stack ? (
        <details>
          <summary>Stack</summary>
          <pre class="json">{error.stack}</pre>
        </details>
      ) : null}
    </div>
  );
}

function Attempts({ step }: { step: StepDetailBody }) {
  const { attempts } = extrasOf(step);
  if (attempts.length === 0) return null;
  const runs = new Set(attempts.map((a) => a.run)).size;
  return (
    <section>
      <h3>Attempts</h3>
      <ol class="attempts">
        {attempts.map((a) => (
          <li key={`${a.run}.${a.attempt}`} class="attempt" data-outcome={a.outcome}>
            <div class="attempt-head">
              <strong>{runs > 1 ? `run ${a.run} · #${a.attempt}` : `#${a.attempt}`}</strong>
              <StateBadge state={a.outcome} />
              <span class="muted small">
                {formatClock(a.started_at)}
                {a.finished_at
                  ? ` · ${formatDuration(Date.parse(a.finished_at) - Date.parse(a.started_at))}`
                  : ''}
                {a.worker ? ` · ${a.worker}` : ''}
              </span>
            </div>
            {a.error ? <StepError error={a.error} /> : null}
            {a.result !== undefined && a.result !== null ? <JsonBlock value={a.result} /> : null}
          </li>
        ))}
      </ol>
    </section>
  );
}

function metaText(t: TransitionBody): string | undefined {
  const who = operatorLabel(t);
  if (!who) return undefined;
  const reason = t.metadata?.reason;
  return typeof reason === 'string' ? `${who} — “${reason}”` : who;
}

function AuditTrail({ items }: { items: readonly TransitionBody[] }) {
  return (
    <ol class="audit" data-testid="audit-trail">
      {items.map((t) => {
        const meta = metaText(t);
        return (
          <li key={t.key} class={meta ? 'audit-operator' : undefined}>
            <span class="audit-time" title={formatTime(t.created_at)}>
              {formatClock(t.created_at)}
            </span>
            <span>
              {t.from_state ? `${stateLabel(t.from_state)} → ` : ''}
              <strong>{stateLabel(t.to_state)}</strong> <span class="muted">({t.event})</span>
              {meta ? <div class="audit-meta">{meta}</div> : null}
            </span>
          </li>
        );
      })}
    </ol>
  );
}

export interface StepPanelProps {
  taskUuid: string;
  /** The step as the live task knows it (its state changes drive the reloads). */
  step: StepBody;
  steps: readonly StepBody[];
  /** The step's transitions as the live task received them, oldest first: its audit trail. */
  trail: readonly TransitionBody[];
  onClose: () => void;
  onActed: () => void;
}

export function StepPanel({ taskUuid, step, steps, trail, onClose, onActed }: StepPanelProps) {
  const { api } = useSession();
  // Re-read on every new transition of the step: a re-run can pass through several states between two renders
  // and end in the state it started from.
  const detail = useLoad(
    () => api.getStep(taskUuid, step.step_uuid),
    [api, taskUuid, step.step_uuid, step.state, trail.length],
  );
  const shown = detail.data && detail.data.step_uuid === step.step_uuid ? detail.data : undefined;
  const extras = shown ? extrasOf(shown) : undefined;
  return (
    <aside class="panel" aria-label={`Step ${step.name}`} data-step={step.name} data-state={step.state}>
      <header class="panel-head">
        <div>
          <h2>{step.name}</h2>
          <StateBadge state={step.state} />
        </div>
        <button type="button" class="btn btn-ghost btn-small" onClick={onClose} aria-label="Close step panel">
          ✕
        </button>
      </header>
      <dl class="facts">
        <dt>Handler</dt>
        <dd class="mono">{step.handler}</dd>
        <dt>Type</dt>
        <dd>{step.type}</dd>
        <dt>Attempts</dt>
        <dd>
          {step.attempts} of {step.max_attempts}
        </dd>
        <dt>Readiness</dt>
        <dd>{stateLabel(step.readiness)}</dd>
        {step.depends_on.length > 0 ? (
          <>
            <dt>Depends on</dt>
            <dd>{step.depends_on.join(', ')}</dd>
          </>
        ) : null}
        {step.next_retry_at ? (
          <>
            <dt>Next retry</dt>
            <dd>{formatTime(step.next_retry_at)}</dd>
          </>
        ) : null}
        <dt>Processed</dt>
        <dd>{formatTime(step.processed_at)}</dd>
      </dl>
      <StepActions taskUuid={taskUuid} step={step} steps={steps} onDone={onActed} />
      <ErrorNote error={detail.error} what="load the step" />
      {(shown?.error ?? step.error) ? (
        <section>
          <h3>Error</h3>
          <StepError error={shown?.error ?? step.error} />
        </section>
      ) : null}
      <section>
        <h3>Result</h3>
        <JsonBlock value={shown ? shown.result : step.result} empty="No result yet." />
      </section>
      {shown ? <Attempts step={shown} /> : null}
      {extras?.inputs !== undefined ? (
        <section>
          <h3>Inputs</h3>
          <JsonBlock value={extras.inputs} />
        </section>
      ) : null}
      {extras?.dependencyResults !== undefined ? (
        <section>
          <h3>Results of the steps above</h3>
          <JsonBlock value={extras.dependencyResults} />
        </section>
      ) : null}
      {extras?.checkpoint !== undefined ? (
        <section>
          <h3>Checkpoint</h3>
          <JsonBlock value={extras.checkpoint} />
        </section>
      ) : null}
      <section>
        <h3>Audit trail</h3>
        {trail.length > 0 ? <AuditTrail items={trail} /> : <p class="muted">Loading…</p>}
      </section>
    </aside>
  );
}
