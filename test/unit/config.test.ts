import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import {
  CONFIG_DOCS_COMMAND,
  OVERRIDES_SOURCE,
  defaultConfigDir,
  describeConfigSchema,
  describeConfigTables,
  loadConfig,
  loadConfigDetailed,
  renderConfigurationMarkdown,
  type TaskerConfig,
} from '../../src/config/index.js';
import { ConfigError, type ValidationIssue } from '../../src/errors.js';

const tempDirs: string[] = [];

afterAll(() => {
  for (const d of tempDirs) rmSync(d, { recursive: true, force: true });
});

/** A private copy of the real config directory, so a test can break one file without touching the repo. */
function configCopy(): string {
  const dir = mkdtempSync(join(tmpdir(), 'tasker-config-'));
  tempDirs.push(dir);
  cpSync(defaultConfigDir(), dir, { recursive: true });
  return dir;
}

function write(dir: string, relative: string, text: string): string {
  const file = join(dir, relative);
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, text);
  return file;
}

function replaceIn(dir: string, relative: string, from: string, to: string): string {
  const file = join(dir, relative);
  const text = readFileSync(file, 'utf8');
  if (!text.includes(from)) throw new Error(`fixture: '${from}' not found in ${relative}`);
  // A replacer function, because a replacement string would treat `$$` specially.
  writeFileSync(
    file,
    text.replace(from, () => to),
  );
  return file;
}

/** Runs `fn`, asserts it throws a ConfigError and returns it. */
function configErrorOf(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

function issueFor(err: ConfigError, path: string): ValidationIssue {
  const issue = err.issues.find((i) => i.path === path);
  if (!issue) throw new Error(`no issue for ${path}; got ${err.message}`);
  return issue;
}

describe('loadConfig: files and environments', () => {
  it('loads the base values in development', () => {
    const cfg = loadConfig({ env: {}, environment: 'development' });
    expect(cfg.common.database.url).toBe('postgresql://postgres@127.0.0.1:5432/tasker');
    expect(cfg.common.database.pool.max_connections).toBe(20);
    expect(cfg.common.queues).toEqual({
      visibility_timeout_seconds: 30,
      notifications_enabled: true,
      listener_reconnect_min_ms: 100,
      listener_reconnect_max_ms: 5000,
    });
    expect(cfg.common.backoff).toEqual({
      max_attempts: 3,
      base_ms: 1000,
      multiplier: 2,
      max_ms: 60000,
      jitter: 0.15,
    });
    expect(cfg.common.logging.level).toBe('info');
    expect(cfg.orchestration.result_batch_size).toBe(200);
    expect(cfg.orchestration.channels.result_wakeups).toEqual({
      capacity: 1000,
      overflow_policy: 'drop_newest',
      send_timeout_ms: 0,
    });
    expect(cfg.worker.max_concurrent_handlers).toBe(10);
    expect(cfg.worker.channels.dispatch.overflow_policy).toBe('block');
    expect(cfg.worker.channels.completion.capacity).toBe(1000);
  });

  it('defaults to development and honours TASKER_ENV', () => {
    expect(loadConfigDetailed({ env: {} }).environment).toBe('development');
    expect(loadConfigDetailed({ env: { TASKER_ENV: '' } }).environment).toBe('development');
    const viaEnv = loadConfigDetailed({ env: { TASKER_ENV: 'test' } });
    expect(viaEnv.environment).toBe('test');
    expect(viaEnv.config.worker.max_concurrent_handlers).toBe(5);
    // An explicit option wins over the variable.
    expect(loadConfigDetailed({ env: { TASKER_ENV: 'test' }, environment: 'production' }).environment).toBe(
      'production',
    );
  });

  it('applies the test environment over base, key by key', () => {
    const cfg = loadConfig({ env: {}, environment: 'test' });
    expect(cfg.common.logging.level).toBe('warn');
    expect(cfg.common.database.pool.max_connections).toBe(10);
    expect(cfg.common.backoff.base_ms).toBe(50);
    expect(cfg.common.backoff.max_ms).toBe(2000);
    expect(cfg.common.channels.listener_notifications.capacity).toBe(100);
    expect(cfg.orchestration.result_poll_interval_ms).toBe(200);
    expect(cfg.orchestration.retry_poll_interval_ms).toBe(100);
    expect(cfg.orchestration.shutdown_timeout_ms).toBe(5000);
    expect(cfg.orchestration.channels.result_wakeups.capacity).toBe(100);
    expect(cfg.worker).toMatchObject({
      max_concurrent_handlers: 5,
      poll_interval_ms: 200,
      handler_timeout_ms: 5000,
      heartbeat_interval_ms: 1000,
      shutdown_timeout_ms: 5000,
    });
    expect(cfg.worker.channels.dispatch.capacity).toBe(100);
    // Siblings of overridden keys keep their base values (deep merge, not table replacement).
    expect(cfg.common.backoff.multiplier).toBe(2);
    expect(cfg.worker.claim_batch_size).toBe(10);
    expect(cfg.worker.channels.dispatch.overflow_policy).toBe('block');
    expect(cfg.common.database.pool.idle_timeout_ms).toBe(30000);
  });

  it('applies the production environment', () => {
    const cfg = loadConfig({ env: {}, environment: 'production' });
    expect(cfg.common.database.pool.max_connections).toBe(50);
    expect(cfg.common.channels.listener_notifications.capacity).toBe(10000);
    expect(cfg.orchestration.channels.result_wakeups.capacity).toBe(10000);
    expect(cfg.worker.max_concurrent_handlers).toBe(50);
    expect(cfg.worker.handler_timeout_ms).toBe(60000);
    expect(cfg.worker.channels.dispatch.capacity).toBe(5000);
    expect(cfg.worker.channels.completion.capacity).toBe(5000);
    expect(cfg.common.logging.level).toBe('info');
  });

  it('records which file supplied each value', () => {
    const { sources, files } = loadConfigDetailed({ env: {}, environment: 'test' });
    expect(sources.get('worker.max_concurrent_handlers')).toMatch(/environments[/\\]test[/\\]worker\.toml$/);
    expect(sources.get('worker.claim_batch_size')).toMatch(/base[/\\]worker\.toml$/);
    expect(files).toHaveLength(6);
  });

  it('returns a deep-frozen object', () => {
    const cfg = loadConfig({ env: {} });
    expect(Object.isFrozen(cfg)).toBe(true);
    expect(Object.isFrozen(cfg.worker.channels.dispatch)).toBe(true);
    expect(() => {
      (cfg.worker.channels.dispatch as { capacity: number }).capacity = 1;
    }).toThrow(TypeError);
  });

  it('allows arrays and scalars to replace and a missing environment file', () => {
    const dir = configCopy();
    rmSync(join(dir, 'environments', 'production', 'orchestration.toml'));
    const cfg = loadConfig({ env: {}, environment: 'production', configDir: dir });
    expect(cfg.orchestration.channels.result_wakeups.capacity).toBe(1000);
    expect(cfg.worker.max_concurrent_handlers).toBe(50);
  });
});

describe('loadConfig: interpolation', () => {
  it('uses DATABASE_URL when set, the default when unset or empty', () => {
    const url = 'postgresql://app:secret@db.internal:5433/prod';
    expect(loadConfig({ env: { DATABASE_URL: url } }).common.database.url).toBe(url);
    expect(loadConfig({ env: { DATABASE_URL: '' } }).common.database.url).toBe(
      'postgresql://postgres@127.0.0.1:5432/tasker',
    );
  });

  it('expands ${VAR:-default} and coerces to the schema type', () => {
    const dir = configCopy();
    replaceIn(dir, 'base/common.toml', 'max_connections = 20', 'max_connections = "${POOL_MAX:-7}"');
    replaceIn(
      dir,
      'base/common.toml',
      'notifications_enabled = true',
      'notifications_enabled = "${NOTIFY:-false}"',
    );
    const withDefaults = loadConfig({ env: {}, configDir: dir });
    expect(withDefaults.common.database.pool.max_connections).toBe(7);
    expect(withDefaults.common.queues.notifications_enabled).toBe(false);
    const fromEnv = loadConfig({ env: { POOL_MAX: '12', NOTIFY: 'true' }, configDir: dir });
    expect(fromEnv.common.database.pool.max_connections).toBe(12);
    expect(fromEnv.common.queues.notifications_enabled).toBe(true);
  });

  it('expands ${VAR} inside a larger string and keeps $${ literal', () => {
    const dir = configCopy();
    replaceIn(
      dir,
      'base/common.toml',
      'url = "${DATABASE_URL:-postgresql://postgres@127.0.0.1:5432/tasker}"',
      'url = "postgresql://${DB_USER}@${DB_HOST:-localhost}/tasker?x=$${literal}"',
    );
    const cfg = loadConfig({ env: { DB_USER: 'alice' }, configDir: dir });
    expect(cfg.common.database.url).toBe('postgresql://alice@localhost/tasker?x=${literal}');
  });

  it('reports an unset ${VAR} with the key and the file', () => {
    const dir = configCopy();
    const file = write(
      dir,
      'environments/development/common.toml',
      '[common.database]\nurl = "${MISSING_DB_URL}"\n',
    );
    const err = configErrorOf(() => loadConfig({ env: {}, configDir: dir }));
    const issue = issueFor(err, 'common.database.url');
    expect(issue.source).toBe(file);
    expect(issue.line).toBe(2);
    expect(issue.message).toContain('MISSING_DB_URL');
    expect(err.message).toContain(file);
  });

  it('rejects a coerced value that is not a number', () => {
    const dir = configCopy();
    const file = replaceIn(
      dir,
      'base/worker.toml',
      'claim_batch_size = 10',
      'claim_batch_size = "${BATCH:-lots}"',
    );
    const issue = issueFor(
      configErrorOf(() => loadConfig({ env: {}, configDir: dir })),
      'worker.claim_batch_size',
    );
    expect(issue.source).toBe(file);
    expect(issue.message).toContain('"lots"');
  });
});

describe('loadConfig: validation errors name the key and the file', () => {
  it('reports an out-of-range value from an environment file', () => {
    const dir = configCopy();
    const file = replaceIn(
      dir,
      'environments/test/worker.toml',
      'max_concurrent_handlers = 5',
      'max_concurrent_handlers = 0',
    );
    const err = configErrorOf(() => loadConfig({ env: {}, environment: 'test', configDir: dir }));
    const issue = issueFor(err, 'worker.max_concurrent_handlers');
    expect(issue.source).toBe(file);
    expect(issue.line).toBeGreaterThan(0);
    expect(issue.message).toContain('(got 0)');
    expect(err.code).toBe('CONFIG_INVALID');
    // The same file is fine for another environment, which does not read it.
    expect(
      loadConfig({ env: {}, environment: 'production', configDir: dir }).worker.max_concurrent_handlers,
    ).toBe(50);
  });

  it('reports a wrong type and a bad enum value from the base file', () => {
    const dir = configCopy();
    replaceIn(dir, 'base/common.toml', 'jitter = 0.15', 'jitter = "lots"');
    const file = replaceIn(dir, 'base/worker.toml', 'overflow_policy = "block"', 'overflow_policy = "wait"');
    const err = configErrorOf(() => loadConfig({ env: {}, configDir: dir }));
    expect(issueFor(err, 'common.backoff.jitter').source).toBe(join(dir, 'base', 'common.toml'));
    const policy = issueFor(err, 'worker.channels.dispatch.overflow_policy');
    expect(policy.source).toBe(file);
    expect(policy.message).toContain('"wait"');
  });

  it('reports every problem at once', () => {
    const dir = configCopy();
    replaceIn(dir, 'base/worker.toml', 'claim_batch_size = 10', 'claim_batch_size = 100000');
    replaceIn(
      dir,
      'base/orchestration.toml',
      'max_concurrent_result_batches = 2',
      'max_concurrent_result_batches = 65',
    );
    const err = configErrorOf(() => loadConfig({ env: {}, configDir: dir }));
    expect(err.issues.map((i) => i.path).sort()).toEqual([
      'orchestration.max_concurrent_result_batches',
      'worker.claim_batch_size',
    ]);
  });

  it('reports an unknown key with its file and a suggestion', () => {
    const dir = configCopy();
    const file = write(
      dir,
      'environments/production/worker.toml',
      '[worker]\nmax_concurent_handlers = 50\n\n[worker.chanels.dispatch]\ncapacity = 5\n',
    );
    const err = configErrorOf(() => loadConfig({ env: {}, environment: 'production', configDir: dir }));
    const typo = issueFor(err, 'worker.max_concurent_handlers');
    expect(typo.source).toBe(file);
    expect(typo.line).toBe(2);
    expect(typo.message).toContain("did you mean 'max_concurrent_handlers'");
    const table = issueFor(err, 'worker.chanels');
    expect(table.source).toBe(file);
    expect(table.line).toBe(4);
  });

  it('rejects keys outside the file’s own section', () => {
    const dir = configCopy();
    const file = join(dir, 'environments', 'test', 'common.toml');
    appendFileSync(file, '\n[worker]\nmax_concurrent_handlers = 3\n');
    const err = configErrorOf(() => loadConfig({ env: {}, environment: 'test', configDir: dir }));
    const issue = issueFor(err, 'worker');
    expect(issue.source).toBe(file);
    expect(issue.message).toContain('worker.toml');
  });

  it('reports a key missing from base against the base file', () => {
    const dir = configCopy();
    replaceIn(dir, 'base/worker.toml', 'completion_batch_size = 50\n', '');
    const issue = issueFor(
      configErrorOf(() => loadConfig({ env: {}, configDir: dir })),
      'worker.completion_batch_size',
    );
    expect(issue.message).toContain('missing');
    expect(issue.source).toBe(join(dir, 'base', 'worker.toml'));
  });

  it('checks related values against each other', () => {
    const dir = configCopy();
    const file = replaceIn(dir, 'base/common.toml', 'base_ms = 1000', 'base_ms = 120000');
    const issue = issueFor(
      configErrorOf(() => loadConfig({ env: {}, configDir: dir })),
      'common.backoff.base_ms',
    );
    expect(issue.source).toBe(file);
    expect(issue.message).toContain('max_ms');
  });

  it('reports TOML syntax errors with file and line', () => {
    const dir = configCopy();
    const file = write(
      dir,
      'environments/test/orchestration.toml',
      '[orchestration]\nresult_batch_size = = 3\n',
    );
    const err = configErrorOf(() => loadConfig({ env: {}, environment: 'test', configDir: dir }));
    expect(err.issues[0]?.source).toBe(file);
    expect(err.issues[0]?.line).toBe(2);
  });

  it('reports a missing configuration directory', () => {
    configErrorOf(() => loadConfig({ env: {}, configDir: join(tmpdir(), 'definitely-not-a-tasker-dir') }));
  });
});

describe('loadConfig: environments', () => {
  it('rejects an unknown environment name', () => {
    const err = configErrorOf(() => loadConfig({ env: { TASKER_ENV: 'staging' } }));
    expect(err.message).toContain("unknown environment 'staging'");
    expect(err.issues[0]?.source).toBe('TASKER_ENV');
    configErrorOf(() => loadConfig({ env: {}, environment: '../base' }));
  });

  it('accepts a custom environment that has a directory', () => {
    const dir = configCopy();
    write(dir, 'environments/staging/worker.toml', '[worker]\nmax_concurrent_handlers = 33\n');
    const cfg = loadConfig({ env: {}, environment: 'staging', configDir: dir });
    expect(cfg.worker.max_concurrent_handlers).toBe(33);
  });
});

describe('loadConfig: overrides', () => {
  it('applies overrides last, deep-merged', () => {
    const cfg: TaskerConfig = loadConfig({
      env: {},
      environment: 'test',
      overrides: { worker: { max_concurrent_handlers: 2, channels: { completion: { capacity: 3 } } } },
    });
    expect(cfg.worker.max_concurrent_handlers).toBe(2);
    expect(cfg.worker.channels.completion).toEqual({
      capacity: 3,
      overflow_policy: 'block',
      send_timeout_ms: 0,
    });
    expect(cfg.worker.poll_interval_ms).toBe(200);
  });

  it('validates overrides and attributes problems to them', () => {
    const err = configErrorOf(() =>
      loadConfig({
        env: {},
        overrides: {
          common: { queues: { visibility_timeout_seconds: 50_000 } },
          worker: { bogus: 1 } as never,
        },
      }),
    );
    expect(issueFor(err, 'common.queues.visibility_timeout_seconds').source).toBe(OVERRIDES_SOURCE);
    expect(issueFor(err, 'worker.bogus').source).toBe(OVERRIDES_SOURCE);
  });

  it('does not modify the overrides object', () => {
    const overrides = { worker: { channels: { dispatch: { capacity: 9 } } } };
    const cfg = loadConfig({ env: {}, overrides });
    expect(cfg.worker.channels.dispatch.capacity).toBe(9);
    expect(Object.isFrozen(overrides.worker)).toBe(false);
    expect(overrides).toEqual({ worker: { channels: { dispatch: { capacity: 9 } } } });
  });
});

describe('describeConfigSchema and docs', () => {
  it('describes every loaded key with a description and a base default', () => {
    const described = describeConfigSchema();
    const cfg = loadConfig({ env: {}, environment: 'development' });
    const leaves: string[] = [];
    const walk = (value: unknown, prefix: string): void => {
      // An array (e.g. the API keys) is one documented key.
      if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
        for (const [k, v] of Object.entries(value)) walk(v, prefix ? `${prefix}.${k}` : k);
      } else leaves.push(prefix);
    };
    walk(cfg, '');
    expect(described.map((d) => d.key).sort()).toEqual(leaves.sort());
    for (const d of described) {
      expect(d.description.length, d.key).toBeGreaterThan(5);
      expect(d.default, d.key).toBeDefined();
    }
    const pool = described.find((d) => d.key === 'common.database.pool.max_connections');
    expect(pool).toMatchObject({
      type: 'integer (1..500)',
      default: 20,
      environments: { test: 10, production: 50 },
    });
    expect(described.find((d) => d.key === 'common.database.url')?.envVars).toEqual(['DATABASE_URL']);
  });

  it('docs/configuration.md is up to date', () => {
    const docsPath = fileURLToPath(new URL('../../docs/configuration.md', import.meta.url));
    const expected = renderConfigurationMarkdown(describeConfigSchema(), describeConfigTables());
    expect(readFileSync(docsPath, 'utf8'), `regenerate with: ${CONFIG_DOCS_COMMAND}`).toBe(expected);
  });
});
