/**
 * The names TypeScript and SQL share are the ones in src/contract/names.ts, on both sides. This reads the SQL
 * (sql/functions/, migrations/, sql/tables/) as text: every failure code, SQLSTATE, channel, fixed queue name,
 * transition event, step action and dead-letter reason it spells must be the contract's, and every name the
 * contract says SQL writes must be written there. A failure lists each offending `file:line` and where to add the
 * name. The TypeScript side is checked by names-contract-src.test.ts.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import {
  CHANNELS,
  CREATE_EVENT,
  DLQ_REASONS,
  DLQ_RESOLUTION_STATUSES,
  FAILURE_CODES,
  QUEUES,
  SQL_DLQ_REASONS,
  SQL_ERROR_STATES,
  SQL_FAILURE_CODES,
  STEP_ACTIONS,
  domainEventsQueueName,
  queueChannel,
  workerQueueName,
} from '../../src/contract/names.js';
import { mapDbError } from '../../src/db/errors.js';
import { ErrorCode, TaskerError } from '../../src/errors.js';
import { STEP_EVENTS, STEP_TRANSITIONS, TASK_EVENTS, TASK_TRANSITIONS } from '../../src/state/index.js';
import { literalsOf, loadSqlSources, matchesIn, type SqlSource } from '../support/sql-source.js';

const CONTRACT = 'src/contract/names.ts';
const values = (o: Record<string, string>): string[] => Object.values(o);
const quoted = (list: string): string[] => [...list.matchAll(/'([^']*)'/g)].map((m) => m[1]!);

let functions: SqlSource[];
let all: SqlSource[];
let tables: SqlSource[];
beforeAll(async () => {
  const sql = await loadSqlSources();
  functions = sql.functions;
  tables = sql.tables;
  all = [...sql.functions, ...sql.migrations, ...sql.tables];
});

/** Literals used as values in the function files, by value. */
function functionLiterals(): Set<string> {
  return new Set(functions.flatMap((s) => literalsOf(s).map((l) => l.value)));
}

describe(`failure codes (${CONTRACT}: FAILURE_CODES)`, () => {
  it('every upper-case literal in the SQL is a failure code or SQLSTATE of the contract', () => {
    // 'UTF8' is an encoding name for convert_to, not a name the two sides share.
    const known = new Set([...values(FAILURE_CODES), ...values(SQL_ERROR_STATES), 'UTF8']);
    const problems = all
      .flatMap(literalsOf)
      .filter((l) => /^[A-Z][A-Z0-9_]*$/.test(l.value) && !known.has(l.value))
      .map(
        (l) =>
          `${l.at}: '${l.value}' is not in ${CONTRACT}: add a failure code to SQL_FAILURE_CODES (a SQLSTATE to ` +
          `SQL_ERROR_STATES) there, and use the constant on the TypeScript side`,
      );
    expect(problems).toEqual([]);
  });

  it('the SQL writes exactly SQL_FAILURE_CODES, each with its error name (the code key)', () => {
    const writes = matchesIn(functions, /'code'\s*,\s*'([^']*)'/g);
    const named = matchesIn(functions, /'name'\s*,\s*'([^']*)'\s*,\s*'code'\s*,\s*'([^']*)'/g);
    const sqlCodes = new Set(values(SQL_FAILURE_CODES));
    const problems = [
      ...writes
        .filter((w) => !sqlCodes.has(w.groups[0]!))
        .map(
          (w) => `${w.at}: writes code '${w.groups[0]}', which is not in SQL_FAILURE_CODES of ${CONTRACT}`,
        ),
      ...named
        .filter((w) => FAILURE_CODES[w.groups[0] as keyof typeof FAILURE_CODES] !== w.groups[1])
        .map(
          (w) =>
            `${w.at}: error name '${w.groups[0]}' with code '${w.groups[1]}'; the contract pairs them by key`,
        ),
    ];
    expect(problems).toEqual([]);
    // Every write names the error, so the pairs above cover every code written.
    expect(named.length).toBe(writes.length);
    const written = new Set(writes.map((w) => w.groups[0]));
    expect(
      values(SQL_FAILURE_CODES).filter((c) => !written.has(c)),
      'codes the contract says SQL writes',
    ).toEqual([]);
  });
});

describe(`SQLSTATEs (${CONTRACT}: SQL_ERROR_STATES)`, () => {
  it('the SQL raises only the contract SQLSTATEs, and each of them somewhere', () => {
    const raised = matchesIn(functions, /ERRCODE\s*=\s*'([^']*)'/g);
    const known = new Set(values(SQL_ERROR_STATES));
    expect(
      raised
        .filter((r) => !known.has(r.groups[0]!))
        .map((r) => `${r.at}: raises '${r.groups[0]}'; add it to SQL_ERROR_STATES in ${CONTRACT}`),
    ).toEqual([]);
    const seen = new Set(raised.map((r) => r.groups[0]));
    expect(values(SQL_ERROR_STATES).filter((s) => !seen.has(s))).toEqual([]);
  });

  it('src/db/errors.ts maps each to its typed error', () => {
    const expected: Record<keyof typeof SQL_ERROR_STATES, string> = {
      TemplateNotFound: ErrorCode.TemplateNotFound,
      TaskNotFound: ErrorCode.TaskNotFound,
      StepNotFound: ErrorCode.StepNotFound,
      DlqEntryNotFound: ErrorCode.DlqEntryNotFound,
      TemplateConflict: ErrorCode.TemplateConflict,
      InvalidTransition: ErrorCode.InvalidTransition,
      InvalidInput: ErrorCode.TaskInvalid,
      QueueNotFound: ErrorCode.QueueNotFound,
    };
    for (const [key, state] of Object.entries(SQL_ERROR_STATES)) {
      const mapped = mapDbError({ code: state, message: 'raised' });
      expect(mapped, state).toBeInstanceOf(TaskerError);
      expect((mapped as TaskerError).code, state).toBe(expected[key as keyof typeof SQL_ERROR_STATES]);
    }
  });
});

describe(`channels and queues (${CONTRACT}: CHANNELS, QUEUES)`, () => {
  it('the SQL notifies the contract channels, each of them, and queue channels only through queue_channel', () => {
    const notifies = matchesIn(functions, /pg_notify\(\s*([^,]+),/g);
    const channels = new Set(values(CHANNELS));
    const problems = notifies
      .map((n) => ({ ...n, target: n.groups[0]!.trim() }))
      .filter((n) =>
        n.target.startsWith("'")
          ? !channels.has(n.target.slice(1, -1))
          : !n.target.startsWith('tasker.queue_channel('),
      )
      .map((n) => `${n.at}: notifies ${n.target}; add the channel to CHANNELS in ${CONTRACT}`);
    expect(problems).toEqual([]);
    const notified = new Set(notifies.map((n) => n.groups[0]!.trim().slice(1, -1)));
    expect(values(CHANNELS).filter((c) => !notified.has(c))).toEqual([]);
  });

  it('every tasker_ literal in the SQL is a contract channel (or the queue channel prefix)', () => {
    const allowed = new Set([...values(CHANNELS), queueChannel('')]);
    expect(
      all
        .flatMap(literalsOf)
        .filter((l) => l.value.startsWith('tasker_') && !allowed.has(l.value))
        .map((l) => `${l.at}: '${l.value}' looks like a channel; add it to CHANNELS in ${CONTRACT}`),
    ).toEqual([]);
  });

  it('every queue the SQL names literally is a contract queue, and each contract queue is used', () => {
    const positions = [
      /queue_channel\(\s*'([^']*)'/g,
      /create_queue\(\s*'([^']*)'/g,
      /queue_name\s*=\s*'([^']*)'/g,
      /INSERT\s+INTO\s+tasker\.queue_messages\s*\(\s*queue_name[^)]*\)\s*(?:VALUES\s*\(\s*|SELECT\s+)'([^']*)'/gi,
      /tasker\.(?:send|send_batch|read|claim_steps|delete|archive|set_vt|queue_metrics|assert_queue)\(\s*'([^']*)'/g,
    ];
    const uses = positions.flatMap((p) => matchesIn(all, p));
    const queues = new Set(values(QUEUES));
    expect(
      uses
        .filter((u) => !queues.has(u.groups[0]!))
        .map((u) => `${u.at}: queue '${u.groups[0]}' is not in QUEUES of ${CONTRACT}`),
    ).toEqual([]);
    const used = new Set(uses.map((u) => u.groups[0]));
    expect(values(QUEUES).filter((q) => !used.has(q))).toEqual([]);
  });

  it('the SQL name builders build the names the contract builds', () => {
    const builders: [string, (arg: string) => string][] = [
      ['worker_queue_name', workerQueueName],
      ['domain_events_queue_name', domainEventsQueueName],
      ['queue_channel', queueChannel],
    ];
    for (const [fn, ts] of builders) {
      const source = functions.find((s) => s.file === `sql/functions/${fn}.sql`)!;
      const body = /\$function\$\s*SELECT\s+(.*?)\s*\$function\$/s.exec(source.code)?.[1];
      expect(body, `${source.file}: a single SELECT of literals and the parameter`).toBeDefined();
      // Evaluates `'a' || p_x || 'b'` with p_x = ARG; any other shape fails the comparison.
      const built = body!
        .split('||')
        .map((part) => part.trim())
        .map((part) =>
          /^'[^']*'$/.test(part) ? part.slice(1, -1) : /^p_\w+$/.test(part) ? 'ARG' : `<${part}>`,
        )
        .join('');
      expect(built, source.file).toBe(ts('ARG'));
    }
  });
});

describe('transition events (StepEvent, TaskEvent in src/state; CREATE_EVENT in the contract)', () => {
  const reaches =
    (table: readonly { from: string; event: string; to: string }[], from: string | null) =>
    (event: string, to: string): boolean =>
      table.some((t) => t.event === event && t.to === to && (from === null || t.from === from));

  it('each step event the SQL logs is a step event that reaches the state it logs', () => {
    const logs = matchesIn(functions, /log_step_transitions\(\s*[^,]+,\s*'([a-z_]+)'\s*,\s*'([A-Za-z]+)'/g);
    expect(logs.length).toBeGreaterThan(10);
    expect(
      logs
        .filter((l) => !reaches(STEP_TRANSITIONS, null)(l.groups[1]!, l.groups[0]!))
        .map(
          (l) => `${l.at}: step event '${l.groups[1]}' into '${l.groups[0]}' is no row of STEP_TRANSITIONS`,
        ),
    ).toEqual([]);
  });

  it('each task path the SQL moves along is a chain of task transitions', () => {
    const moves = matchesIn(
      functions,
      /(?:move_tasks|log_task_transitions)\(\s*[^,]+,\s*ARRAY\[([^\]]*)\]\s*,\s*ARRAY\[([^\]]*)\]/g,
    );
    expect(moves.length).toBeGreaterThan(4);
    const problems: string[] = [];
    for (const m of moves) {
      const path = quoted(m.groups[0]!);
      const events = quoted(m.groups[1]!);
      if (path.length !== events.length) {
        problems.push(`${m.at}: ${path.length} states, ${events.length} events`);
      }
      path.forEach((to, i) => {
        if (!reaches(TASK_TRANSITIONS, i === 0 ? null : path[i - 1]!)(events[i] ?? '', to)) {
          problems.push(`${m.at}: task event '${events[i]}' into '${to}' is no row of TASK_TRANSITIONS`);
        }
      });
    }
    expect(problems).toEqual([]);
  });

  it('every PascalCase literal in the SQL is a transition event, CREATE_EVENT or a failure name', () => {
    const known = new Set<string>([
      ...STEP_EVENTS,
      ...TASK_EVENTS,
      CREATE_EVENT,
      ...Object.keys(FAILURE_CODES),
    ]);
    expect(
      all
        .flatMap(literalsOf)
        .filter((l) => /^[A-Z][a-z0-9]+(?:[A-Z][a-z0-9]*)*$/.test(l.value) && !known.has(l.value))
        .map(
          (l) =>
            `${l.at}: '${l.value}' is neither a StepEvent/TaskEvent (src/state) nor a name in ${CONTRACT}`,
        ),
    ).toEqual([]);
    expect(functionLiterals().has(CREATE_EVENT)).toBe(true);
  });
});

describe(`step actions and dead letters (${CONTRACT}: STEP_ACTIONS, DLQ_*)`, () => {
  it('apply_step_action takes exactly STEP_ACTIONS', () => {
    const source = functions.filter((s) => s.file === 'sql/functions/apply_step_action.sql');
    const cases = matchesIn(source, /WHEN\s+'([a-z_]+)'\s+THEN\s+v_to/g).map((m) => m.groups[0]);
    expect(cases.sort()).toEqual(values(STEP_ACTIONS).sort());
    const compared = matchesIn(source, /p_action\s*=\s*'([a-z_]+)'/g);
    expect(compared.filter((c) => !values(STEP_ACTIONS).includes(c.groups[0]!)).map((c) => c.at)).toEqual([]);
  });

  it('the tasks_dlq CHECKs list exactly the contract reasons and statuses', () => {
    const dlq = tables.filter((s) => s.file === 'sql/tables/tasks_dlq.sql');
    const check = (column: string): string[] =>
      quoted(
        matchesIn(dlq, new RegExp(`CHECK \\(${column} = ANY \\(ARRAY\\[([^\\]]*)\\]`, 'g'))[0]!.groups[0]!,
      );
    expect(check('dlq_reason')).toEqual([...DLQ_REASONS]);
    expect(check('resolution_status')).toEqual([...DLQ_RESOLUTION_STATUSES]);
  });

  it('the SQL writes SQL_DLQ_REASONS and compares statuses only with contract statuses', () => {
    const literals = functionLiterals();
    expect(SQL_DLQ_REASONS.filter((r) => !literals.has(r))).toEqual([]);
    const statuses = matchesIn(functions, /resolution_status\s*=\s*'([a-z_]+)'/g);
    expect(statuses.length).toBeGreaterThan(0);
    expect(
      statuses
        .filter((s) => !(DLQ_RESOLUTION_STATUSES as readonly string[]).includes(s.groups[0]!))
        .map((s) => `${s.at}: status '${s.groups[0]}' is not in DLQ_RESOLUTION_STATUSES of ${CONTRACT}`),
    ).toEqual([]);
  });
});
