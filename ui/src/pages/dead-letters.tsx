/**
 * Dead letters: tasks that ended in error, for triage. Each entry shows why (the reason and the failing step's
 * message), links to the task, keeps investigation notes, and is resolved with a status (operators only).
 */
import { useEffect, useState } from 'preact/hooks';
import { ApiError } from '../api.js';
import type { DlqEntryBody } from '../api-types.js';
import { ErrorNote } from '../components/error-note.js';
import { dlqSummary } from '../dlq-snapshot.js';
import { formatAgo, formatTime, shortId } from '../format.js';
import { navigate, useNow } from '../hooks.js';
import { can } from '../permissions.js';
import { hrefOf, taskHref } from '../router.js';
import { useSession } from '../session.js';

const STATUSES = ['pending', 'manually_resolved', 'permanently_failed', 'cancelled'] as const;
const STATUS_TONE: Record<string, string> = {
  pending: 'failed',
  manually_resolved: 'done',
  permanently_failed: 'muted',
  cancelled: 'muted',
};

function Entry({
  entry,
  now,
  onSaved,
}: {
  entry: DlqEntryBody;
  now: number;
  onSaved: (e: DlqEntryBody) => void;
}) {
  const { api, principal } = useSession();
  const [notes, setNotes] = useState(entry.resolution_notes ?? '');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError | undefined>(undefined);
  useEffect(() => setNotes(entry.resolution_notes ?? ''), [entry.resolution_notes]);
  const summary = dlqSummary(entry);
  const editable = can(principal, 'updateDlq');
  const save = async (status?: string) => {
    setBusy(true);
    setError(undefined);
    try {
      const body: { resolution_notes: string; resolution_status?: string } = { resolution_notes: notes };
      if (status) body.resolution_status = status;
      onSaved(await api.updateDlq(entry.dlq_entry_uuid, body));
    } catch (e) {
      setError(e instanceof ApiError ? e : new ApiError(0, 'CLIENT', String(e)));
    } finally {
      setBusy(false);
    }
  };
  return (
    <article class="card dlq-entry" data-dlq={entry.dlq_entry_uuid} data-status={entry.resolution_status}>
      <header class="dlq-head">
        <span class={`badge tone-${STATUS_TONE[entry.resolution_status] ?? 'pending'}`}>
          {entry.resolution_status.replace(/_/g, ' ')}
        </span>
        <span class="tag">{entry.reason.replace(/_/g, ' ')}</span>
        <a href={taskHref(entry.task_uuid, summary.stepUuid)}>
          <strong>{summary.template ?? 'task'}</strong> <span class="mono">{shortId(entry.task_uuid)}</span>
        </a>
        <span class="muted" title={formatTime(entry.created_at)}>
          {formatAgo(entry.created_at, now)}
        </span>
      </header>
      {summary.message ? (
        <p class="dlq-error">
          {summary.stepName ? <strong>{summary.stepName}: </strong> : null}
          {summary.message}
          {summary.code ? <span class="tag">{summary.code}</span> : null}
        </p>
      ) : null}
      {entry.resolved_by ? (
        <p class="muted small">
          {entry.resolution_status.replace(/_/g, ' ')} by {entry.resolved_by}{' '}
          {entry.resolved_at ? formatAgo(entry.resolved_at, now) : ''}
        </p>
      ) : null}
      {editable ? (
        <div class="dlq-edit">
          <textarea
            name="notes"
            rows={2}
            placeholder="Investigation notes…"
            value={notes}
            onInput={(e) => setNotes(e.currentTarget.value)}
            aria-label="Investigation notes"
          />
          <div class="actions">
            <button type="button" class="btn btn-small" disabled={busy} onClick={() => void save()}>
              Save notes
            </button>
            {entry.resolution_status === 'pending' ? (
              <>
                <button
                  type="button"
                  class="btn btn-small btn-primary"
                  disabled={busy}
                  onClick={() => void save('manually_resolved')}
                >
                  Mark resolved
                </button>
                <button
                  type="button"
                  class="btn btn-small"
                  disabled={busy}
                  onClick={() => void save('permanently_failed')}
                >
                  Permanently failed
                </button>
              </>
            ) : (
              <button
                type="button"
                class="btn btn-small"
                disabled={busy}
                onClick={() => void save('pending')}
              >
                Reopen
              </button>
            )}
          </div>
          <ErrorNote error={error} what="update the entry" />
        </div>
      ) : entry.resolution_notes ? (
        <p class="dlq-notes">{entry.resolution_notes}</p>
      ) : null}
    </article>
  );
}

export function DeadLetters({ query }: { query: Record<string, string> }) {
  const { api } = useSession();
  const now = useNow(10_000);
  const status = query.status ?? 'pending';
  const [items, setItems] = useState<DlqEntryBody[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [error, setError] = useState<ApiError | undefined>(undefined);
  const [loading, setLoading] = useState(true);
  const load = async (after: string | undefined) => {
    setLoading(true);
    try {
      const page = await api.dlq({
        resolution_status: status === 'all' ? undefined : status,
        cursor: after,
        limit: '50',
      });
      setItems((known) => (after ? [...known, ...page.items] : page.items));
      setCursor(page.next_cursor);
      setError(undefined);
    } catch (e) {
      setError(e instanceof ApiError ? e : new ApiError(0, 'CLIENT', String(e)));
    } finally {
      setLoading(false);
    }
  };
  useEffect(() => {
    void load(undefined);
    // Reloaded when the status filter changes.
  }, [api, status]);
  const replace = (updated: DlqEntryBody) =>
    setItems((known) => known.map((e) => (e.dlq_entry_uuid === updated.dlq_entry_uuid ? updated : e)));
  return (
    <section class="page" data-page="dlq">
      <header class="page-head">
        <h1>Dead letters</h1>
        <div class="segmented" role="group" aria-label="Resolution status">
          {[...STATUSES, 'all'].map((s) => (
            <button
              key={s}
              type="button"
              class={s === status ? 'active' : undefined}
              onClick={() =>
                navigate(hrefOf({ page: 'dlq', query: s === 'pending' ? {} : { status: s } }), true)
              }
            >
              {s.replace(/_/g, ' ')}
            </button>
          ))}
        </div>
      </header>
      <ErrorNote error={error} what="list dead letters" />
      {items.length === 0 && !loading ? (
        <p class="empty">Nothing here. Every failed task has been dealt with.</p>
      ) : null}
      <div class="dlq-list">
        {items.map((e) => (
          <Entry key={e.dlq_entry_uuid} entry={e} now={now} onSaved={replace} />
        ))}
      </div>
      {cursor ? (
        <button type="button" class="btn" disabled={loading} onClick={() => void load(cursor)}>
          Load more
        </button>
      ) : null}
    </section>
  );
}
