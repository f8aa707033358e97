/**
 * Tasks: the filterable, live list of every task (newest first), virtualised and paged by cursor as it scrolls,
 * with a selection and bulk actions for operators.
 */
import { useState } from 'preact/hooks';
import type { TaskSummaryBody } from '../api-types.js';
import { BulkActions } from '../components/bulk-actions.js';
import { ErrorNote } from '../components/error-note.js';
import { StateBadge } from '../components/state-badge.js';
import { TaskFilterBar } from '../components/task-filter-bar.js';
import { VirtualList } from '../components/virtual-list.js';
import { formatAgo, formatCount, formatDuration, formatTime, shortId } from '../format.js';
import { navigate, useLoad, useNow } from '../hooks.js';
import { can, hasPermission } from '../permissions.js';
import { hrefOf, taskHref, templateHref } from '../router.js';
import { useSession } from '../session.js';
import { filtersFromQuery, filtersToQuery, type TaskFilters } from '../task-filters.js';
import { useTaskPages } from '../task-pages.js';

function Progress({ task }: { task: TaskSummaryBody }) {
  const done = task.steps_total - task.steps_remaining;
  const pct = task.steps_total === 0 ? 0 : (done / task.steps_total) * 100;
  return (
    <span class="progress" title={`${done} of ${task.steps_total} steps done`}>
      <span class="progress-track">
        <span
          class={`progress-fill tone-${task.state === 'error' ? 'failed' : 'done'}`}
          style={{ width: `${pct}%` }}
        />
      </span>
      <span class="progress-text">
        {done}/{task.steps_total}
      </span>
    </span>
  );
}

interface RowProps {
  task: TaskSummaryBody;
  now: number;
  selectable: boolean;
  selected: boolean;
  onToggle: (uuid: string) => void;
}

function TaskRow({ task, now, selectable, selected, onToggle }: RowProps) {
  const ended = task.completed_at ? Date.parse(task.completed_at) : now;
  return (
    <div
      class={`task-row${selected ? ' selected' : ''}`}
      data-task={task.task_uuid}
      data-state={task.state}
      onClick={(e) => {
        if ((e.target as HTMLElement).closest('a, input')) return;
        navigate(taskHref(task.task_uuid));
      }}
    >
      <span class="cell-check">
        {selectable ? (
          <input
            type="checkbox"
            checked={selected}
            aria-label={`Select task ${shortId(task.task_uuid)}`}
            onChange={() => onToggle(task.task_uuid)}
          />
        ) : null}
      </span>
      <span class="cell-state">
        <StateBadge state={task.state} />
      </span>
      <span class="cell-name">
        <a href={templateHref(task.namespace, task.name)} class="subtle">
          {task.namespace}/
        </a>
        <a href={taskHref(task.task_uuid)}>
          <strong>{task.name}</strong>
        </a>
        <span class="muted"> v{task.version}</span>
      </span>
      <span class="cell-id mono" title={task.task_uuid}>
        {shortId(task.task_uuid)}
      </span>
      <span class="cell-progress">
        <Progress task={task} />
      </span>
      <span class="cell-tags">
        {task.tags.slice(0, 3).map((t) => (
          <span key={t} class="tag">
            {t}
          </span>
        ))}
      </span>
      <span class="cell-created" title={formatTime(task.created_at)}>
        {formatAgo(task.created_at, now)}
      </span>
      <span class="cell-duration">{formatDuration(ended - Date.parse(task.created_at))}</span>
    </div>
  );
}

export function TaskList({ query }: { query: Record<string, string> }) {
  const { api, principal } = useSession();
  const filters = filtersFromQuery(query);
  const pages = useTaskPages(api, filters);
  const now = useNow(5000);
  const canTemplates = hasPermission(principal, 'templates:read');
  const templates = useLoad(
    () => (canTemplates ? api.templates() : Promise.resolve({ items: [] })),
    [api, canTemplates],
  );
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const [message, setMessage] = useState<string | undefined>(undefined);
  const selectable = can(principal, 'bulkCancel') || can(principal, 'bulkRetryFailed');
  const setFilters = (next: TaskFilters) => {
    setSelected(new Set());
    navigate(hrefOf({ page: 'tasks', query: filtersToQuery(next) }), true);
  };
  const toggle = (uuid: string) =>
    setSelected((s) => {
      const next = new Set(s);
      if (next.has(uuid)) next.delete(uuid);
      else next.add(uuid);
      return next;
    });
  const allSelected = pages.items.length > 0 && pages.items.every((t) => selected.has(t.task_uuid));
  return (
    <section class="page page-fill" data-page="tasks">
      <header class="page-head">
        <h1>Tasks</h1>
        <span class="muted" data-testid="task-count">
          {formatCount(pages.items.length)}
          {pages.hasMore ? '+' : ''} shown{pages.loading ? ' · loading…' : ''}
        </span>
      </header>
      <TaskFilterBar filters={filters} templates={templates.data?.items ?? []} onChange={setFilters} />
      <BulkActions
        filters={filters}
        selected={[...selected]}
        onDone={(msg) => {
          setMessage(msg);
          setSelected(new Set());
          pages.reload();
        }}
      />
      {message ? (
        <div class="toast" role="status" onClick={() => setMessage(undefined)}>
          {message}
        </div>
      ) : null}
      <ErrorNote error={pages.error} what="list tasks" />
      <div class="table">
        <div class="task-row table-head" role="row">
          <span class="cell-check">
            {selectable ? (
              <input
                type="checkbox"
                aria-label="Select all shown tasks"
                checked={allSelected}
                onChange={() =>
                  setSelected(allSelected ? new Set() : new Set(pages.items.map((t) => t.task_uuid)))
                }
              />
            ) : null}
          </span>
          <span class="cell-state">State</span>
          <span class="cell-name">Task</span>
          <span class="cell-id">Id</span>
          <span class="cell-progress">Steps</span>
          <span class="cell-tags">Tags</span>
          <span class="cell-created">Created</span>
          <span class="cell-duration">Duration</span>
        </div>
        {pages.items.length === 0 && !pages.loading ? (
          <p class="empty">No task matches these filters.</p>
        ) : null}
        <VirtualList
          class="table-body"
          label="Tasks"
          items={pages.items}
          rowHeight={44}
          keyOf={(t) => t.task_uuid}
          onNearEnd={pages.hasMore ? pages.loadMore : undefined}
          renderRow={(t) => (
            <TaskRow
              task={t}
              now={now}
              selectable={selectable}
              selected={selected.has(t.task_uuid)}
              onToggle={toggle}
            />
          )}
        />
      </div>
    </section>
  );
}
