/**
 * Human-readable output of the CLI: pure functions from wire bodies to text, so every command renders a given
 * thing the same way and tests can check the text without a terminal.
 */
import type {
  DlqEntryBody,
  HealthBody,
  StepBody,
  TaskBody,
  TaskSummaryBody,
  TemplateDetailBody,
  TemplateSummaryBody,
  TransitionBody,
  ValidationIssueBody,
} from '../client/index.js';
import { PLAIN, stripAnsi, styleState, type Palette } from './colour.js';

/** Display width of a string (code points, colour codes excluded; good enough for the names Tasker allows). */
function width(text: string): number {
  return [...stripAnsi(text)].length;
}

function pad(text: string, to: number): string {
  return text + ' '.repeat(Math.max(0, to - width(text)));
}

/** Shortens `text` to `max` columns with an ellipsis. */
export function truncate(text: string, max: number): string {
  if (max <= 0) return '';
  const chars = [...text];
  return chars.length <= max ? text : `${chars.slice(0, Math.max(0, max - 1)).join('')}…`;
}

/**
 * A plain table: a header row and left-aligned columns separated by two spaces. The last column is not
 * padded (no trailing blanks). Cells are single-line.
 */
export function table(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const clean = rows.map((r) => r.map((c) => c.replace(/\s*\n\s*/g, ' ')));
  const widths = headers.map((h, i) => Math.max(width(h), ...clean.map((r) => width(r[i] ?? ''))));
  const line = (cells: readonly string[]): string =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : pad(c, widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(headers), ...clean.map(line)].join('\n');
}

/** `namespace/name@version`. */
export function templateRef(t: { namespace: string; name: string; version: string }): string {
  return `${t.namespace}/${t.name}@${t.version}`;
}

/** An ISO timestamp as `YYYY-MM-DD HH:MM:SS` (UTC), or `-`. */
export function shortTime(iso: string | null | undefined): string {
  if (!iso) return '-';
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)}`;
}

/** Duration between two ISO timestamps, e.g. `1.24s` or `3m05s`. */
export function duration(fromIso: string, toIso: string | null): string {
  if (!toIso) return '-';
  const ms = Date.parse(toIso) - Date.parse(fromIso);
  if (!Number.isFinite(ms) || ms < 0) return '-';
  if (ms < 1000) return `${ms}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(2)}s`;
  const m = Math.floor(ms / 60_000);
  const s = Math.floor((ms % 60_000) / 1000);
  return `${m}m${String(s).padStart(2, '0')}s`;
}

/** Steps that finished successfully (or were resolved by hand). */
export function stepsDone(task: { steps_total: number; steps_remaining: number }): number {
  return task.steps_total - task.steps_remaining;
}

/** The listing of `tasker task list`. */
export function formatTaskList(items: readonly TaskSummaryBody[]): string {
  if (items.length === 0) return 'no tasks';
  return table(
    ['TASK', 'TEMPLATE', 'STATE', 'STEPS', 'CREATED', 'TAGS'],
    items.map((t) => [
      t.task_uuid,
      templateRef(t),
      t.state,
      `${stepsDone(t)}/${t.steps_total}`,
      shortTime(t.created_at),
      t.tags.join(','),
    ]),
  );
}

/** Widest result shown in a step table; `tasker step get` or `--json` show all of it. */
const RESULT_WIDTH = 60;

/** A value as compact one-line JSON. */
function compactJson(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

/**
 * What to know about a step at a glance: its error (`CODE: message`), that it was skipped, when it retries,
 * or its result (short, truncated JSON).
 */
export function stepDetail(s: StepBody, palette: Palette = PLAIN): string {
  if (s.error) return palette.bad(truncate(formatStepError(s.error), 80));
  if (s.state === 'skipped') return palette.dim('skipped: not on a chosen branch');
  if (s.next_retry_at) return `retry at ${shortTime(s.next_retry_at)}`;
  if (s.result !== null && s.result !== undefined) {
    return `result ${truncate(compactJson(s.result), RESULT_WIDTH)}`;
  }
  return '';
}

/** The step table of `tasker task get` and `tasker step list`. */
export function formatStepTable(
  steps: readonly StepBody[],
  options: { uuids?: boolean; palette?: Palette } = {},
): string {
  const palette = options.palette ?? PLAIN;
  const headers = [
    'STEP',
    'STATE',
    'ATTEMPTS',
    'READINESS',
    'DEPENDS ON',
    ...(options.uuids ? ['STEP UUID'] : []),
    'RESULT / ERROR',
  ];
  return table(
    headers,
    steps.map((s) => [
      // Dynamic steps say what they are; plain steps stay unmarked.
      s.type === 'standard' ? s.name : `${s.name} [${s.type}]`,
      styleState(palette, s.state),
      `${s.attempts}/${s.max_attempts}`,
      s.readiness,
      s.depends_on.join(',') || '-',
      ...(options.uuids ? [s.step_uuid] : []),
      stepDetail(s, palette),
    ]),
  );
}

/** `tasker task get`: the task, then its steps (each with its result or error). */
export function formatTask(task: TaskBody, palette: Palette = PLAIN): string {
  const lines = [
    `task      ${task.task_uuid}`,
    `template  ${templateRef(task)}`,
    `state     ${styleState(palette, task.state)}  (${stepsDone(task)}/${task.steps_total} steps done)`,
    `created   ${shortTime(task.created_at)}${task.completed_at ? `   finished ${shortTime(task.completed_at)} (${duration(task.created_at, task.completed_at)})` : ''}`,
    `priority  ${task.priority}${task.tags.length ? `   tags ${task.tags.join(', ')}` : ''}`,
    `context   ${truncate(JSON.stringify(task.context), 200)}`,
  ];
  if (task.error) {
    const e = task.error.error;
    lines.push(`error     ${failedWhere(task.error)}: ${palette.bad(e ? formatStepError(e) : 'failed')}`);
  }
  return `${lines.join('\n')}\n\n${formatStepTable(task.steps, { palette })}`;
}

/** One line per transition (the non-terminal output of `tasker task wait`); `detail` is appended. */
export function formatTransition(t: TransitionBody, detail?: string): string {
  const who = t.entity === 'task' ? 'task' : `step ${t.step_name ?? t.step_uuid ?? '?'}`;
  return `${t.created_at}  ${who}  ${t.from_state ?? '(new)'} -> ${t.to_state}  [${t.event}]${detail ? `  ${detail}` : ''}`;
}

/** A step error as one line: `CODE: message`. */
export function formatStepError(error: StepBody['error']): string {
  if (!error) return '';
  return `${error.code ? `${error.code}: ` : ''}${error.message}`;
}

/** Where a task failed: its step, or the task itself when no step is to blame (e.g. staleness). */
function failedWhere(error: NonNullable<TaskBody['error']>): string {
  return error.step_name === null ? 'task' : `step ${error.step_name}`;
}

/** The final line of a wait: the state and, for failures, why. */
export function formatTaskOutcome(task: TaskBody): string {
  const took = duration(task.created_at, task.completed_at ?? task.updated_at);
  const base = `task ${task.task_uuid} ${task.state} in ${took} (${stepsDone(task)}/${task.steps_total} steps done)`;
  if (!task.error) return base;
  const e = task.error.error;
  return `${base}\n  ${failedWhere(task.error)} failed: ${e ? formatStepError(e) : 'unknown error'}`;
}

/** `tasker template list`. */
export function formatTemplateList(items: readonly TemplateSummaryBody[]): string {
  if (items.length === 0) return 'no templates';
  return table(
    ['TEMPLATE', 'STEPS', 'IDENTITY', 'REGISTERED', 'DESCRIPTION'],
    items.map((t) => [
      templateRef(t),
      String(t.step_count),
      t.identity_strategy,
      shortTime(t.created_at),
      truncate(t.description ?? '', 60),
    ]),
  );
}

/** `tasker template show`: header and step table (the DAG drawing follows, see `dag.ts`). */
export function formatTemplateHeader(t: TemplateDetailBody): string {
  const lines = [
    `template  ${templateRef(t)}`,
    ...(t.description ? [`          ${t.description}`] : []),
    `identity  ${t.identity_strategy}    steps ${t.step_count}    registered ${shortTime(t.created_at)}`,
    '',
    table(
      ['STEP', 'HANDLER', 'RETRY', 'TIMEOUT', 'DEPENDS ON'],
      t.steps.map((s) => [
        s.name,
        s.handler,
        s.retry.retryable ? `${s.retry.max_attempts}x` : 'no',
        s.timeout_ms === null ? '-' : `${s.timeout_ms}ms`,
        s.depends_on.join(',') || '-',
      ]),
    ),
  ];
  return lines.join('\n');
}

/** Validation issues as `file:line: path: message`, one per line. */
export function formatIssues(issues: readonly ValidationIssueBody[], file?: string): string {
  return issues
    .map((i) => {
      const where = file ? `${file}${i.line ? `:${i.line}` : ''}: ` : i.line ? `line ${i.line}: ` : '';
      return `${where}${i.path || '<root>'}: ${i.message}`;
    })
    .join('\n');
}

/** `tasker dlq list`. */
export function formatDlqList(items: readonly DlqEntryBody[]): string {
  if (items.length === 0) return 'no dead-letter entries';
  return table(
    ['ENTRY', 'TASK', 'REASON', 'STATUS', 'CREATED'],
    items.map((e) => [e.dlq_entry_uuid, e.task_uuid, e.reason, e.resolution_status, shortTime(e.created_at)]),
  );
}

/** `tasker dlq show`. */
export function formatDlqEntry(e: DlqEntryBody): string {
  return [
    `entry           ${e.dlq_entry_uuid}`,
    `task            ${e.task_uuid}`,
    `reason          ${e.reason}`,
    `original state  ${e.original_state}`,
    `status          ${e.resolution_status}`,
    `notes           ${e.resolution_notes ?? '-'}`,
    `resolved        ${e.resolved_at ? `${shortTime(e.resolved_at)} by ${e.resolved_by ?? '?'}` : '-'}`,
    `created         ${shortTime(e.created_at)}    updated ${shortTime(e.updated_at)}`,
    'task snapshot:',
    JSON.stringify(e.task_snapshot, null, 2)
      .split('\n')
      .map((l) => `  ${l}`)
      .join('\n'),
  ].join('\n');
}

/** `tasker health`. */
export function formatHealth(h: HealthBody, url: string): string {
  const lines = [
    `${h.status}  ${url}${h.processor_id ? `  (${h.processor_id})` : ''}`,
    `database    ${h.database.ok ? `ok (${h.database.latency_ms ?? '?'} ms)` : `FAILED: ${h.database.message ?? ''}`}`,
    `migrations  ${h.migrations.ok ? 'current' : `NOT CURRENT: ${h.migrations.message ?? ''}`}`,
    `pool        ${h.pool.total} open, ${h.pool.idle} idle, ${h.pool.waiting} waiting`,
    `event loop  p50 ${h.event_loop.delay_p50_ms} ms, p99 ${h.event_loop.delay_p99_ms} ms`,
    `uptime      ${h.uptime_seconds}s`,
  ];
  if (h.channels.length > 0) {
    lines.push(
      '',
      table(
        ['CHANNEL', 'DEPTH', 'CAPACITY', 'SATURATION', 'DROPPED'],
        h.channels.map((c) => [
          c.name,
          String(c.depth),
          String(c.capacity),
          `${Math.round(c.saturation * 100)}%`,
          String(c.dropped),
        ]),
      ),
    );
  }
  return lines.join('\n');
}
