/**
 * Operator actions on a step: retry it, resolve it manually, complete it with a given result, or re-run from it
 * (it and every step below it run again; the rest keep their results). Each asks for confirmation and a reason,
 * which the audit trail records. Buttons the principal may not use are not rendered.
 */
import { useState } from 'preact/hooks';
import { ApiError } from '../api.js';
import type { StepBody } from '../api-types.js';
import { plural } from '../format.js';
import { descendantsOf } from '../graph.js';
import { can, type OperatorAction } from '../permissions.js';
import { useSession } from '../session.js';
import { actionsFor, type StepActionKind } from '../step-action-rules.js';
import { ConfirmDialog } from './confirm-dialog.js';

type Kind = StepActionKind;

const PERMISSION: Record<Kind, OperatorAction> = {
  reset_for_retry: 'retryStep',
  resolve_manually: 'resolveStep',
  complete_manually: 'completeStep',
  rerun_from: 'rerunFrom',
};

const LABEL: Record<Kind, string> = {
  reset_for_retry: 'Retry step',
  resolve_manually: 'Resolve manually',
  complete_manually: 'Complete with result…',
  rerun_from: 'Re-run from here…',
};

function Explanation({ kind, step, steps }: { kind: Kind; step: StepBody; steps: readonly StepBody[] }) {
  const name = <strong>{step.name}</strong>;
  switch (kind) {
    case 'reset_for_retry':
      return <p>{name} goes back to pending with its attempts reset and runs again; the task resumes.</p>;
    case 'resolve_manually':
      return (
        <p>
          {name} is marked resolved manually, without a result. Steps that depend on it run next and see no
          result.
        </p>
      );
    case 'complete_manually':
      return (
        <p>
          {name} is marked complete with the result below; the steps that depend on it read it as its result.
        </p>
      );
    case 'rerun_from': {
      const below = [...descendantsOf(steps, step.name)];
      const keep = steps.length - below.length - 1;
      return (
        <p class="confirm-summary">
          {name} and {below.length === 0 ? 'no other step' : plural(below.length, 'step')} below it
          {below.length > 0 ? ` (${below.slice(0, 6).join(', ')}${below.length > 6 ? ', …' : ''})` : ''} go
          back to pending and run again.{' '}
          {keep === 0
            ? ''
            : `The other ${plural(keep, 'step')} ${keep === 1 ? 'keeps its result' : 'keep their results'}.`}
        </p>
      );
    }
  }
}

export interface StepActionsProps {
  taskUuid: string;
  step: StepBody;
  steps: readonly StepBody[];
  onDone: () => void;
}

export function StepActions({ taskUuid, step, steps, onDone }: StepActionsProps) {
  const { api, principal } = useSession();
  const [open, setOpen] = useState<Kind | undefined>(undefined);
  const [resultText, setResultText] = useState('{\n  \n}');
  const kinds = actionsFor(step.state).filter((k) => can(principal, PERMISSION[k]));
  if (kinds.length === 0) return null;
  const run = async (kind: Kind, reason: string) => {
    if (kind === 'complete_manually') {
      let result: unknown;
      try {
        result = JSON.parse(resultText) as unknown;
      } catch (e) {
        throw new ApiError(0, 'INVALID_JSON', `the result is not valid JSON: ${(e as Error).message}`);
      }
      await api.stepAction(taskUuid, step.step_uuid, { action_type: kind, reason, result });
    } else {
      await api.stepAction(taskUuid, step.step_uuid, { action_type: kind, reason });
    }
    onDone();
  };
  return (
    <div class="actions" role="group" aria-label="Step actions">
      {kinds.map((k) => (
        <button
          key={k}
          type="button"
          class={`btn btn-small${k === 'reset_for_retry' ? ' btn-primary' : ''}`}
          onClick={() => setOpen(k)}
        >
          {LABEL[k]}
        </button>
      ))}
      {open ? (
        <ConfirmDialog
          title={`${LABEL[open].replace('…', '')}: ${step.name}`}
          confirmLabel={LABEL[open].replace('…', '')}
          onClose={() => setOpen(undefined)}
          onConfirm={(reason) => run(open, reason)}
        >
          <Explanation kind={open} step={step} steps={steps} />
          {open === 'complete_manually' ? (
            <label class="field">
              <span>Result (JSON)</span>
              <textarea
                name="result"
                class="mono"
                rows={6}
                value={resultText}
                onInput={(e) => setResultText(e.currentTarget.value)}
              />
            </label>
          ) : null}
        </ConfirmDialog>
      ) : null}
    </div>
  );
}
