/**
 * The task list's filter bar: state chips, namespace and template (suggested from the registered templates),
 * a time range, and a search box for a task id (or prefix) or an identity / idempotency key.
 */
import { useEffect, useState } from 'preact/hooks';
import type { TemplateSummaryBody } from '../api-types.js';
import { stateLabel, TASK_STATE_ORDER, toneOf } from '../states.js';
import { EMPTY_FILTERS, TIME_RANGES, type TaskFilters, type TimeRange } from '../task-filters.js';

export interface TaskFilterBarProps {
  filters: TaskFilters;
  templates: readonly TemplateSummaryBody[];
  onChange: (filters: TaskFilters) => void;
}

const RANGE_LABELS: Record<TimeRange, string> = {
  '15m': 'Last 15 min',
  '1h': 'Last hour',
  '24h': 'Last 24 h',
  '7d': 'Last 7 days',
  all: 'Any time',
  custom: 'Custom…',
};

type State = (typeof TASK_STATE_ORDER)[number];

/** One chip per task state; several can be on at once. */
function StateChips({ states, onToggle }: { states: readonly string[]; onToggle: (state: State) => void }) {
  return (
    <div class="chips" role="group" aria-label="States">
      {TASK_STATE_ORDER.map((s) => (
        <button
          key={s}
          type="button"
          class={`chip tone-${toneOf(s)}${states.includes(s) ? ' on' : ''}`}
          aria-pressed={states.includes(s)}
          data-state={s}
          onClick={() => onToggle(s)}
        >
          <span class="dot" />
          {stateLabel(s)}
        </button>
      ))}
    </div>
  );
}

export function TaskFilterBar({ filters, templates, onChange }: TaskFilterBarProps) {
  const [search, setSearch] = useState(filters.search);
  useEffect(() => setSearch(filters.search), [filters.search]);
  const namespaces = [...new Set(templates.map((t) => t.namespace))].sort();
  const names = [
    ...new Set(
      templates.filter((t) => !filters.namespace || t.namespace === filters.namespace).map((t) => t.name),
    ),
  ].sort();
  const set = (patch: Partial<TaskFilters>) => onChange({ ...filters, ...patch });
  const toggleState = (state: State) =>
    set({
      states: filters.states.includes(state)
        ? filters.states.filter((s) => s !== state)
        : [...filters.states, state],
    });
  return (
    <div class="filters">
      <div class="filter-row">
        <form
          class="search"
          onSubmit={(e) => {
            e.preventDefault();
            set({ search });
          }}
        >
          <input
            type="search"
            name="search"
            placeholder="Task id, prefix, identity or idempotency key…"
            value={search}
            onInput={(e) => setSearch(e.currentTarget.value)}
            onBlur={() => search !== filters.search && set({ search })}
            aria-label="Search tasks"
          />
        </form>
        <input
          list="namespaces"
          name="namespace"
          placeholder="Namespace"
          value={filters.namespace}
          onChange={(e) => set({ namespace: e.currentTarget.value.trim() })}
          aria-label="Namespace"
        />
        <datalist id="namespaces">
          {namespaces.map((n) => (
            <option key={n} value={n} />
          ))}
        </datalist>
        <input
          list="template-names"
          name="template"
          placeholder="Template"
          value={filters.name}
          onChange={(e) => set({ name: e.currentTarget.value.trim() })}
          aria-label="Template"
        />
        <datalist id="template-names">
          {names.map((n) => (
            <option key={n} value={n} />
          ))}
        </datalist>
        <select
          name="range"
          value={filters.range}
          onChange={(e) => set({ range: e.currentTarget.value as TimeRange })}
          aria-label="Created"
        >
          {(Object.keys(TIME_RANGES) as TimeRange[]).map((r) => (
            <option key={r} value={r}>
              {RANGE_LABELS[r]}
            </option>
          ))}
        </select>
        {filters.range === 'custom' ? (
          <>
            <input
              type="datetime-local"
              aria-label="Created from"
              value={filters.from}
              onChange={(e) => set({ from: e.currentTarget.value })}
            />
            <input
              type="datetime-local"
              aria-label="Created before"
              value={filters.to}
              onChange={(e) => set({ to: e.currentTarget.value })}
            />
          </>
        ) : null}
        <button type="button" class="btn btn-ghost btn-small" onClick={() => onChange(EMPTY_FILTERS)}>
          Clear
        </button>
      </div>
      <StateChips states={filters.states} onToggle={toggleState} />
    </div>
  );
}
