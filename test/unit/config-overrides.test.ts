import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  defaultConfigDir,
  deploymentIssues,
  envVariableFor,
  loadConfig,
  loadConfigDetailed,
} from '../../src/config/index.js';
import { ConfigError } from '../../src/errors.js';

const tempDirs: string[] = [];
afterAll(() => {
  for (const d of tempDirs) rmSync(d, { recursive: true, force: true });
});

/** A directory holding only the given files (relative path -> TOML text). */
function overlay(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'tasker-overlay-'));
  tempDirs.push(dir);
  for (const [relative, text] of Object.entries(files)) {
    const file = join(dir, relative);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, text);
  }
  return dir;
}

function configErrorOf(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

describe('loadConfig: an overlay directory of overrides', () => {
  it('merges an environment file holding one key over the shipped base and environment', () => {
    const dir = overlay({ 'environments/production/worker.toml': '[worker]\nmax_concurrent_handlers = 7\n' });
    const loaded = loadConfigDetailed({ env: {}, environment: 'production', overlayDir: dir });
    expect(loaded.config.worker.max_concurrent_handlers).toBe(7);
    // Everything else still comes from the shipped files: production's own value and base defaults.
    expect(loaded.config.worker.handler_timeout_ms).toBe(60_000);
    expect(loaded.config.worker.completion_batch_size).toBe(50);
    expect(loaded.configDir).toBe(defaultConfigDir());
    expect(loaded.overlayDir).toBe(dir);
    expect(loaded.files.at(-1)).toBe(join(dir, 'environments', 'production', 'worker.toml'));
    expect(loaded.sources.get('worker.max_concurrent_handlers')).toBe(loaded.files.at(-1));
  });

  it("applies the overlay's base/ to every environment, after the shipped environment files", () => {
    const dir = overlay({ 'base/common.toml': '[common.database.pool]\nmax_connections = 9\n' });
    for (const environment of ['development', 'production']) {
      expect(loadConfig({ env: {}, environment, overlayDir: dir }).common.database.pool.max_connections).toBe(
        9,
      );
    }
  });

  it('reports a bad key in an overlay file against that file', () => {
    const dir = overlay({ 'base/worker.toml': '[worker]\nmax_concurent_handlers = 7\n' });
    const err = configErrorOf(() => loadConfig({ env: {}, overlayDir: dir }));
    const issue = err.issues.find((i) => i.path === 'worker.max_concurent_handlers');
    expect(issue?.message).toContain("did you mean 'max_concurrent_handlers'");
    expect(issue?.source).toBe(join(dir, 'base', 'worker.toml'));
  });

  it('accepts an environment that only the overlay defines', () => {
    const dir = overlay({ 'environments/staging/worker.toml': '[worker]\nmax_concurrent_handlers = 3\n' });
    const cfg = loadConfig({ env: {}, environment: 'staging', overlayDir: dir });
    expect(cfg.worker.max_concurrent_handlers).toBe(3);
  });
});

describe('loadConfig: TASKER__<SECTION>__<KEY> environment variables', () => {
  it('names variables by the dotted key', () => {
    expect(envVariableFor('worker.max_concurrent_handlers')).toBe('TASKER__WORKER__MAX_CONCURRENT_HANDLERS');
    expect(envVariableFor('orchestration.api.auth.enabled')).toBe(
      'TASKER__ORCHESTRATION__API__AUTH__ENABLED',
    );
  });

  it('sets numbers, booleans, strings, enums and JSON arrays by the schema type, over every file', () => {
    const loaded = loadConfigDetailed({
      environment: 'production',
      env: {
        TASKER__WORKER__MAX_CONCURRENT_HANDLERS: '20',
        TASKER__COMMON__QUEUES__NOTIFICATIONS_ENABLED: 'FALSE',
        tasker__orchestration__api__host: '10.1.2.3',
        TASKER__COMMON__LOGGING__LEVEL: 'debug',
        TASKER__ORCHESTRATION__API__AUTH__API_KEYS: JSON.stringify([
          { name: 'ci', key: 'k1', permissions: ['tasks:read'] },
        ]),
      },
    });
    const cfg = loaded.config;
    expect(cfg.worker.max_concurrent_handlers).toBe(20);
    expect(cfg.common.queues.notifications_enabled).toBe(false);
    expect(cfg.orchestration.api.host).toBe('10.1.2.3');
    expect(cfg.common.logging.level).toBe('debug');
    expect(cfg.orchestration.api.auth.api_keys).toEqual([
      { name: 'ci', key: 'k1', permissions: ['tasks:read'] },
    ]);
    expect(loaded.sources.get('worker.max_concurrent_handlers')).toBe(
      'TASKER__WORKER__MAX_CONCURRENT_HANDLERS',
    );
    expect(loaded.variables).toHaveLength(5);
  });

  it('merges a JSON table key by key', () => {
    const cfg = loadConfig({ env: { TASKER__WORKER__WEB: '{"port": 9999}' } });
    expect(cfg.worker.web.port).toBe(9999);
    expect(cfg.worker.web.host).toBe('127.0.0.1');
  });

  it('reports a value of the wrong type and an unknown key, naming the variable', () => {
    const err = configErrorOf(() =>
      loadConfig({
        env: {
          TASKER__WORKER__MAX_CONCURRENT_HANDLERS: 'lots',
          TASKER__WORKER__MAX_CONCURENT_HANDLERS: '3',
          TASKER__ORCHESTRATION__API__AUTH__API_KEYS: '[not json',
        },
      }),
    );
    const by = (variable: string) => err.issues.find((i) => i.source === variable);
    expect(by('TASKER__WORKER__MAX_CONCURRENT_HANDLERS')?.message).toContain(
      "expected a number (got 'lots')",
    );
    expect(by('TASKER__WORKER__MAX_CONCURENT_HANDLERS')?.message).toContain('unknown configuration key');
    expect(by('TASKER__WORKER__MAX_CONCURENT_HANDLERS')?.message).toContain('max_concurrent_handlers');
    expect(by('TASKER__ORCHESTRATION__API__AUTH__API_KEYS')?.message).toContain('expected a JSON array');
  });

  it('reports an out-of-range or invalid enum value through the schema, naming the variable', () => {
    const err = configErrorOf(() =>
      loadConfig({
        env: { TASKER__WORKER__MAX_CONCURRENT_HANDLERS: '0', TASKER__COMMON__LOGGING__LEVEL: 'loud' },
      }),
    );
    expect(err.issues.find((i) => i.path === 'worker.max_concurrent_handlers')?.source).toBe(
      'TASKER__WORKER__MAX_CONCURRENT_HANDLERS',
    );
    expect(err.issues.find((i) => i.path === 'common.logging.level')?.source).toBe(
      'TASKER__COMMON__LOGGING__LEVEL',
    );
  });
});

describe('deploymentIssues', () => {
  it('flags production with authentication on and no API key or JWT verifier', () => {
    const issues = deploymentIssues(loadConfig({ env: {}, environment: 'production' }));
    expect(issues).toHaveLength(1);
    expect(issues[0]?.path).toBe('orchestration.api.auth');
    expect(issues[0]?.message).toContain('no API key or JWT verifier');
  });

  it('is satisfied by an API key, or by any JWT verifier', () => {
    for (const env of [
      { TASKER_API_KEY: 'k' },
      { TASKER_JWT_SECRET: 's' },
      { TASKER_JWT_JWKS_URL: 'https://idp.example/jwks' },
    ]) {
      expect(deploymentIssues(loadConfig({ env, environment: 'production' }))).toEqual([]);
    }
  });

  it('ignores authentication settings when it is off (development)', () => {
    expect(deploymentIssues(loadConfig({ env: {}, environment: 'development' }))).toEqual([]);
  });
});
