/**
 * Bulk actions of the task list, on the selected tasks or on everything the filter matches: cancel, retry the
 * failed steps. The confirmation first asks the server how many tasks the action touches (a dry run) and says
 * so: "Cancel 37 tasks matching state error, namespace "shop"".
 */
import { useEffect, useState } from 'preact/hooks';
import { ApiError } from '../api.js';
import type { BulkActionBody, BulkActionResult } from '../api-types.js';
import { plural } from '../format.js';
import { can } from '../permissions.js';
import { useSession } from '../session.js';
import { describeFilters, filterBody, isUnfiltered, type TaskFilters } from '../task-filters.js';
import { ConfirmDialog } from './confirm-dialog.js';

type Action = BulkActionBody['action'];
type Target = { kind: 'selection'; uuids: string[] } | { kind: 'filter'; filters: TaskFilters };

interface Pending {
  action: Action;
  target: Target;
  /** The request without reason and dry_run, fixed when the dialog opens (relative ranges included). */
  request: Omit<BulkActionBody, 'reason' | 'dry_run'>;
}

const VERB: Record<Action, { title: string; button: string; done: string }> = {
  cancel: { title: 'Cancel', button: 'Cancel tasks', done: 'Cancelled' },
  retry_failed: { title: 'Retry the failed steps of', button: 'Retry failed steps', done: 'Retried' },
};

const EFFECT: Record<Action, string> = {
  cancel:
    'Their unfinished steps become cancelled, running handlers are told to stop, and the tasks end as cancelled. ' +
    'Finished tasks are left as they are.',
  retry_failed:
    'Every failed step of these tasks goes back to pending with its attempts reset, and the tasks resume. ' +
    'Tasks without a failed step are left as they are.',
};

function subject(target: Target): string {
  return target.kind === 'selection' ? 'selected' : `matching ${describeFilters(target.filters)}`;
}

function BulkDialog({
  pending,
  onClose,
  onDone,
}: {
  pending: Pending;
  onClose: () => void;
  onDone: (msg: string) => void;
}) {
  const { api } = useSession();
  const [count, setCount] = useState<BulkActionResult | undefined>(undefined);
  const [countError, setCountError] = useState<string | undefined>(undefined);
  useEffect(() => {
    api
      .bulk({ ...pending.request, reason: 'dashboard dry run', dry_run: true })
      .then(setCount)
      .catch((e: unknown) => setCountError(e instanceof ApiError ? e.message : String(e)));
  }, [api, pending]);
  const verb = VERB[pending.action];
  // A dry run counts the tasks the action applies to (`matched`); it changes none.
  const n = count?.matched ?? 0;
  const title = count ? `${verb.title} ${plural(n, 'task')}?` : `${verb.title} tasks?`;
  return (
    <ConfirmDialog
      title={title}
      confirmLabel={count ? `${verb.title.split(' ')[0]} ${plural(n, 'task')}` : verb.button}
      danger={pending.action === 'cancel'}
      disabled={!count || n === 0}
      onClose={onClose}
      onConfirm={async (reason) => {
        const result = await api.bulk({ ...pending.request, reason });
        onDone(`${verb.done} ${plural(result.affected, 'task')}.`);
      }}
    >
      {countError ? <p class="error-note">Could not count the tasks: {countError}</p> : null}
      {!count && !countError ? <p class="muted">Counting the tasks this touches…</p> : null}
      {count ? (
        <p class="confirm-summary" data-affected={n}>
          {verb.title} <strong>{plural(n, 'task')}</strong> {subject(pending.target)}.
          {count.matched !== n
            ? ` (${plural(count.matched, 'task')} match; the others are left as they are.)`
            : ''}
        </p>
      ) : null}
      <p class="muted">{EFFECT[pending.action]}</p>
    </ConfirmDialog>
  );
}

export interface BulkActionsProps {
  filters: TaskFilters;
  selected: readonly string[];
  onDone: (message: string) => void;
}

export function BulkActions({ filters, selected, onDone }: BulkActionsProps) {
  const { principal } = useSession();
  const [pending, setPending] = useState<Pending | undefined>(undefined);
  const actions = ([] as Action[])
    .concat(can(principal, 'bulkCancel') ? ['cancel'] : [])
    .concat(can(principal, 'bulkRetryFailed') ? ['retry_failed'] : []);
  if (actions.length === 0) return null;
  const open = (action: Action, target: Target) =>
    setPending({
      action,
      target,
      request:
        target.kind === 'selection'
          ? { action, task_uuids: target.uuids }
          : { action, filter: filterBody(target.filters, Date.now()) },
    });
  const unfiltered = isUnfiltered(filters);
  return (
    <div class="bulk" role="toolbar" aria-label="Bulk actions">
      {selected.length > 0 ? (
        <span class="bulk-count">{plural(selected.length, 'task')} selected</span>
      ) : null}
      {actions.map((action) =>
        selected.length > 0 ? (
          <button
            key={`sel-${action}`}
            type="button"
            class={`btn btn-small${action === 'cancel' ? ' btn-danger-ghost' : ''}`}
            onClick={() => open(action, { kind: 'selection', uuids: [...selected] })}
          >
            {action === 'cancel' ? 'Cancel selected' : 'Retry failed in selection'}
          </button>
        ) : null,
      )}
      {actions.map((action) => (
        <button
          key={`flt-${action}`}
          type="button"
          class={`btn btn-small${action === 'cancel' ? ' btn-danger-ghost' : ''}`}
          disabled={unfiltered}
          title={
            unfiltered ? 'Set a filter first: a bulk action never touches every task by accident.' : undefined
          }
          onClick={() => open(action, { kind: 'filter', filters })}
        >
          {action === 'cancel' ? 'Cancel all matching…' : 'Retry failed matching…'}
        </button>
      ))}
      {pending ? (
        <BulkDialog pending={pending} onClose={() => setPending(undefined)} onDone={onDone} />
      ) : null}
    </div>
  );
}
