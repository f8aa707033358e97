import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CommanderError } from 'commander';
import { describe, expect, it } from 'vitest';
import {
  TaskerApiError,
  TaskerConflictError,
  TaskerNetworkError,
  TaskerNotFoundError,
  TaskerUnauthorizedError,
  TaskerUnavailableError,
  type StepBody,
  type TransitionBody,
} from '../../src/client/index.js';
import { apiErrorFor } from '../../src/client/errors.js';
import { ConfigError, ErrorCode } from '../../src/errors.js';
import { DEFAULT_API_URL, resolveClientSettings } from '../../src/cli/client-config.js';
import { maskSecrets } from '../../src/cli/commands/config.js';
import { parseTemplateRef } from '../../src/cli/commands/template.js';
import { dagLayers, drawDag } from '../../src/cli/dag.js';
import { ExitCode, exitCodeFor, NotFoundError, UsageError } from '../../src/cli/exit-codes.js';
import { formatIssues, formatStepTable, table, truncate } from '../../src/cli/format.js';
import type { CliIo } from '../../src/cli/io.js';
import { printError } from '../../src/cli/program.js';
import { TaskProgress } from '../../src/cli/progress.js';
import { paletteFor, stripAnsi } from '../../src/cli/colour.js';

const req = { method: 'GET', path: '/v1/tasks/x' };

describe('DAG drawing', () => {
  const diamond = {
    nodes: ['start', 'left', 'right', 'end'],
    edges: [
      ['start', 'left'],
      ['start', 'right'],
      ['left', 'end'],
      ['right', 'end'],
    ] as [string, string][],
  };

  it('groups steps by depth (longest chain above them)', () => {
    expect(dagLayers(diamond)).toEqual([['start'], ['left', 'right'], ['end']]);
    // `c` depends on `a` directly and through `b`: it sits below `b`.
    expect(
      dagLayers({
        nodes: ['a', 'b', 'c'],
        edges: [
          ['a', 'b'],
          ['a', 'c'],
          ['b', 'c'],
        ],
      }),
    ).toEqual([['a'], ['b'], ['c']]);
    expect(dagLayers({ nodes: ['x', 'y'], edges: [] })).toEqual([['x', 'y']]);
  });

  it('draws layers with their dependencies, in unicode or ASCII', () => {
    expect(drawDag(diamond)).toBe(
      [
        '0 ┌ start',
        '  │',
        '1 ├ left   ◀─ start',
        '  ├ right  ◀─ start',
        '  │',
        '2 └ end    ◀─ left, right',
      ].join('\n'),
    );
    expect(drawDag(diamond, { unicode: false })).toBe(
      [
        '0 + start',
        '  |',
        '1 | left   <- start',
        '  | right  <- start',
        '  |',
        '2 + end    <- left, right',
      ].join('\n'),
    );
    expect(drawDag({ nodes: ['only'], edges: [] })).toBe('0 ─ only');
    expect(drawDag({ nodes: [], edges: [] })).toBe('(no steps)');
  });

  it('pads layer labels when there are ten or more layers', () => {
    const nodes = Array.from({ length: 11 }, (_, i) => `s${i}`);
    const edges = nodes.slice(1).map((n, i): [string, string] => [nodes[i]!, n]);
    const lines = drawDag({ nodes, edges }).split('\n');
    expect(lines[0]).toBe(' 0 ┌ s0');
    expect(lines.at(-1)).toBe('10 └ s10  ◀─ s9');
  });
});

describe('formatting', () => {
  it('table aligns columns and leaves no trailing blanks', () => {
    expect(
      table(
        ['A', 'LONG HEADER', 'C'],
        [
          ['xx', 'y', ''],
          ['x', 'yyyyyyyyyyyyy', 'z'],
        ],
      ),
    ).toBe(['A   LONG HEADER    C', 'xx  y', 'x   yyyyyyyyyyyyy  z'].join('\n'));
  });

  it('truncate adds an ellipsis only when needed', () => {
    expect(truncate('abcdef', 6)).toBe('abcdef');
    expect(truncate('abcdef', 4)).toBe('abc…');
  });

  it('issues are printed as file:line: path: message', () => {
    expect(
      formatIssues(
        [
          { path: 'steps[1].depends_on', message: 'unknown step nowhere', line: 9 },
          { path: '', message: 'bad' },
        ],
        't.yaml',
      ),
    ).toBe('t.yaml:9: steps[1].depends_on: unknown step nowhere\nt.yaml: <root>: bad');
  });

  it('parseTemplateRef reads namespace/name[@version]', () => {
    expect(parseTemplateRef('shop/checkout')).toEqual({ namespace: 'shop', name: 'checkout' });
    expect(parseTemplateRef('shop/checkout@1.2.0')).toEqual({
      namespace: 'shop',
      name: 'checkout',
      version: '1.2.0',
    });
    expect(() => parseTemplateRef('checkout')).toThrow(UsageError);
    expect(() => parseTemplateRef('a/b/c')).toThrow(UsageError);
  });
});

describe('progress bar', () => {
  const step = (name: string): Pick<StepBody, 'name'> => ({ name });
  const transition = (entity: 'task' | 'step', to: string, name: string | null = null): TransitionBody => ({
    key: `${entity}:${name ?? 't'}:${to}`,
    entity,
    task_uuid: '0',
    step_uuid: name === null ? null : `uuid-${name}`,
    step_name: name,
    from_state: null,
    to_state: to,
    event: 'E',
    sort_key: 1,
    metadata: null,
    processor: null,
    created_at: new Date(0).toISOString(),
  });

  it('counts done, failed and running steps from the transitions', () => {
    const p = new TaskProgress({ steps: [step('a'), step('b'), step('c'), step('d')] as StepBody[] });
    expect(p.render(120, { barWidth: 8 })).toBe('[░░░░░░░░] 0/4 steps · pending');
    p.apply(transition('task', 'steps_in_process'));
    p.apply(transition('step', 'complete', 'a'));
    p.apply(transition('step', 'in_progress', 'b'));
    p.apply(transition('step', 'in_progress', 'c'));
    expect(p.render(120, { barWidth: 8 })).toBe('[██░░░░░░] 1/4 steps · running: b, c');
    p.apply(transition('step', 'error', 'c'));
    p.apply(transition('step', 'resolved_manually', 'd'));
    expect(p.done).toBe(2);
    expect(p.failed).toBe(1);
    expect(p.render(120, { barWidth: 8, unicode: false })).toBe(
      '[####----] 2/4 steps | 1 failed | running: b',
    );
  });

  it('never writes into the last column', () => {
    const p = new TaskProgress({ steps: [step('a_very_long_step_name_indeed')] as StepBody[] });
    p.apply(transition('step', 'in_progress', 'a_very_long_step_name_indeed'));
    const line = p.render(40);
    expect([...line].length).toBe(39);
    expect(line.endsWith('…')).toBe(true);
  });
});

describe('secret masking', () => {
  it('masks credential keys and URL passwords, nothing else', () => {
    expect(
      maskSecrets({
        common: { database: { url: 'postgresql://u:pw@h:5432/db', pool: { max_connections: 5 } } },
        orchestration: {
          api: {
            host: '0.0.0.0',
            auth: {
              api_keys: [{ name: 'admin', key: 'k', permissions: ['*'] }],
              jwt_hs256_secret: 's',
              jwt_issuer: 'me',
              jwt_permissions_claim: 'permissions',
            },
          },
        },
        empty_secret: '',
      }),
    ).toEqual({
      common: { database: { url: 'postgresql://u:********@h:5432/db', pool: { max_connections: 5 } } },
      orchestration: {
        api: {
          host: '0.0.0.0',
          auth: {
            api_keys: [{ name: 'admin', key: '********', permissions: ['*'] }],
            jwt_hs256_secret: '********',
            jwt_issuer: 'me',
            jwt_permissions_claim: 'permissions',
          },
        },
      },
      empty_secret: '',
    });
  });
});

describe('API connection settings precedence', () => {
  const home = mkdtempSync(join(tmpdir(), 'tasker-cli-units-'));
  const file = join(home, 'explicit.toml');
  writeFileSync(file, 'url = "http://file:1"\napi_key = "file-key"\ntoken = "file-token"\n');

  it('flag, then environment, then file, then default', () => {
    const env = { TASKER_URL: 'http://env:2', TASKER_API_KEY: 'env-key' };
    const all = resolveClientSettings(
      { url: 'http://flag:3', apiKey: 'flag-key', cliConfig: file },
      env,
      home,
    );
    expect(all).toMatchObject({ url: 'http://flag:3', apiKey: 'flag-key', token: 'file-token', file });
    expect(all.sources).toEqual({ url: 'flag', apiKey: 'flag', token: 'file' });
    const fromEnv = resolveClientSettings({ cliConfig: file }, env, home);
    expect(fromEnv).toMatchObject({ url: 'http://env:2', apiKey: 'env-key' });
    const fromFile = resolveClientSettings({}, { TASKER_CLI_CONFIG: file }, home);
    expect(fromFile).toMatchObject({ url: 'http://file:1', apiKey: 'file-key', token: 'file-token' });
    const nothing = resolveClientSettings({}, {}, home);
    expect(nothing).toMatchObject({
      url: DEFAULT_API_URL,
      apiKey: undefined,
      token: undefined,
      file: undefined,
    });
    expect(nothing.sources.url).toBe('default');
  });

  it('reads ~/.config/tasker/cli.toml (or $XDG_CONFIG_HOME/tasker/cli.toml) when present', () => {
    mkdirSync(join(home, '.config', 'tasker'), { recursive: true });
    writeFileSync(join(home, '.config', 'tasker', 'cli.toml'), 'url = "http://home:4"\n');
    expect(resolveClientSettings({}, {}, home).url).toBe('http://home:4');
    const xdg = join(home, 'xdg');
    mkdirSync(join(xdg, 'tasker'), { recursive: true });
    writeFileSync(join(xdg, 'tasker', 'cli.toml'), 'url = "http://xdg:5"\n');
    expect(resolveClientSettings({}, { XDG_CONFIG_HOME: xdg }, home).url).toBe('http://xdg:5');
  });

  it('refuses a missing named file, unknown keys and non-http URLs', () => {
    expect(() => resolveClientSettings({ cliConfig: join(home, 'nope.toml') }, {}, home)).toThrow(
      /not found/,
    );
    const bad = join(home, 'bad.toml');
    writeFileSync(bad, 'uri = "http://x"\n');
    expect(() => resolveClientSettings({ cliConfig: bad }, {}, home)).toThrow(/unknown key 'uri'/);
    expect(() => resolveClientSettings({ url: 'ftp://x' }, {}, home)).toThrow(/http\(s\) URL/);
  });
});

describe('exit codes', () => {
  it('map errors to the documented codes', () => {
    expect(exitCodeFor(new TaskerNotFoundError(404, 'TASK_NOT_FOUND', 'm', req))).toBe(ExitCode.NotFound);
    expect(exitCodeFor(new NotFoundError('no step'))).toBe(ExitCode.NotFound);
    expect(exitCodeFor(new TaskerConflictError(409, 'INVALID_TRANSITION', 'm', req))).toBe(ExitCode.Conflict);
    expect(exitCodeFor(new TaskerUnauthorizedError(401, 'UNAUTHENTICATED', 'm', req))).toBe(ExitCode.Usage);
    expect(exitCodeFor(new TaskerNetworkError('down', req))).toBe(ExitCode.Usage);
    expect(exitCodeFor(new ConfigError('bad'))).toBe(ExitCode.Usage);
    expect(exitCodeFor(new UsageError('bad flag'))).toBe(ExitCode.Usage);
    expect(exitCodeFor(new CommanderError(1, 'commander.missingArgument', 'missing'))).toBe(ExitCode.Usage);
    expect(exitCodeFor(new CommanderError(0, 'commander.helpDisplayed', 'help'))).toBe(ExitCode.Ok);
    expect(exitCodeFor(new TaskerApiError(500, 'INTERNAL', 'm', req))).toBe(ExitCode.Failed);
    expect(exitCodeFor(new Error('bug'))).toBe(ExitCode.Failed);
  });

  it('a database statement timeout is a "try later" answer, printed with its code and a hint', () => {
    const e = apiErrorFor(503, 'DATABASE_TIMEOUT', 'the database statement took longer than ...', {
      method: 'POST',
      path: '/v1/tasks',
    });
    expect(e).toBeInstanceOf(TaskerUnavailableError);
    expect(e.code).toBe(ErrorCode.DatabaseTimeout);
    expect(exitCodeFor(e)).toBe(ExitCode.Usage);
    let stderr = '';
    const io: CliIo = {
      out: () => {},
      err: (text) => {
        stderr += text;
      },
      isTTY: false,
      columns: 80,
      env: {},
    };
    printError(io, e, false);
    expect(stderr).toContain('error [DATABASE_TIMEOUT]: the database statement took longer than');
    expect(stderr).toMatch(/hint: .*statement timeout.*common\.database\.statement_timeout_ms/);
  });
});

describe('step table', () => {
  const step = (name: string, type: StepBody['type'], state: StepBody['state']): StepBody => ({
    step_uuid: '00000000-0000-7000-8000-000000000001',
    task_uuid: '00000000-0000-7000-8000-000000000002',
    name,
    handler: 'h',
    state,
    type,
    attempts: state === 'skipped' ? 0 : 1,
    max_attempts: 3,
    depends_on: [],
    readiness: state === 'skipped' ? 'skipped' : 'done',
    result: null,
    error: null,
    next_retry_at: null,
    processed_at: null,
  });

  it('marks dynamic steps with their type and shows skipped ones', () => {
    const out = formatStepTable([
      step('validate', 'standard', 'complete'),
      step('route', 'decision', 'complete'),
      step('auto_approve', 'standard', 'skipped'),
      step('finalize', 'deferred_convergence', 'complete'),
    ]);
    expect(out).toMatch(/^validate\s+complete\s+1\/3\s+done/m);
    expect(out).toMatch(/^route \[decision\]\s+complete/m);
    expect(out).toMatch(/^auto_approve\s+skipped\s+0\/3\s+skipped/m);
    expect(out).toMatch(/^finalize \[deferred_convergence\]\s+complete/m);
  });
});

describe('colour', () => {
  const steps: StepBody[] = [
    { ...stepBodyFixture('load', 'complete'), result: { rows: 3 } },
    { ...stepBodyFixture('charge', 'error'), error: { code: 'DECLINED', message: 'no', retryable: false } },
    stepBodyFixture('skip_me', 'skipped'),
  ];

  it('is on for a terminal only, and off with NO_COLOR or TERM=dumb', () => {
    expect(paletteFor(true, {}).enabled).toBe(true);
    expect(paletteFor(false, {}).enabled).toBe(false);
    expect(paletteFor(true, { NO_COLOR: '1' }).enabled).toBe(false);
    expect(paletteFor(true, { TERM: 'dumb' }).enabled).toBe(false);
  });

  it('colours states and errors without disturbing the table layout', () => {
    const coloured = formatStepTable(steps, { palette: paletteFor(true, {}) });

    expect(coloured).toMatch(/\u001b\[/);
    expect(stripAnsi(coloured)).toBe(formatStepTable(steps));
    expect(formatStepTable(steps)).toMatch(/^load\s+complete\s.*result \{"rows":3\}$/m);
    expect(formatStepTable(steps)).toMatch(/^charge\s+error\s.*DECLINED: no$/m);
  });
});

function stepBodyFixture(name: string, state: StepBody['state']): StepBody {
  return {
    step_uuid: '00000000-0000-7000-8000-000000000001',
    task_uuid: '00000000-0000-7000-8000-000000000002',
    name,
    handler: 'h',
    state,
    type: 'standard',
    attempts: 1,
    max_attempts: 3,
    depends_on: [],
    readiness: 'done',
    result: null,
    error: null,
    next_retry_at: null,
    processed_at: null,
  };
}
