/** CLI commands that work without an API or database: run as real processes. */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { json, tasker } from './run.js';

const dir = mkdtempSync(join(tmpdir(), 'tasker-cli-local-'));

function write(relative: string, text: string): string {
  const file = join(dir, relative);
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, text);
  return file;
}

/** No credential variables from the developer's shell may decide a test. */
const noCredentials = {
  TASKER_API_KEY: undefined,
  TASKER_JWT_SECRET: undefined,
  TASKER_JWT_PUBLIC_KEY: undefined,
  TASKER_JWT_JWKS_URL: undefined,
};

describe('tasker config', () => {
  it('config validate --env production fails (exit 1) while authentication has no key or JWT verifier', async () => {
    const bad = await tasker(['config', 'validate', '--env', 'production'], noCredentials);
    expect(bad.code, bad.stderr).toBe(1);
    expect(bad.stderr).toContain('configuration loads but cannot work');
    expect(bad.stdout).toContain(
      'orchestration.api.auth: authentication is enabled but no API key or JWT verifier',
    );
    const asJson = await tasker(['config', 'validate', '--env', 'production', '--json'], noCredentials);
    expect(asJson.code).toBe(1);
    expect(json<{ valid: boolean }>(asJson).valid).toBe(false);

    const withKey = await tasker(['config', 'validate', '--env', 'production'], {
      ...noCredentials,
      TASKER_API_KEY: 'prod-key',
    });
    expect(withKey.code, withKey.stderr).toBe(0);
    const withJwt = await tasker(['config', 'validate', '--env', 'production'], {
      ...noCredentials,
      TASKER_JWT_SECRET: 'shared-secret',
    });
    expect(withJwt.code, withJwt.stderr).toBe(0);
  });

  it('--config-dir holding only overrides is merged over the shipped files', async () => {
    const overrides = join(dir, 'only-overrides');
    write('only-overrides/environments/test/worker.toml', '[worker]\nmax_concurrent_handlers = 13\n');
    write('only-overrides/base/common.toml', '[common.logging]\nlevel = "warn"\n');
    const validated = await tasker(['config', 'validate', '--env', 'test', '--config-dir', overrides]);
    expect(validated.code, validated.stdout + validated.stderr).toBe(0);
    expect(validated.stdout).toContain(join(overrides, 'environments', 'test', 'worker.toml'));
    const shown = await tasker(['config', 'show', '--env', 'test', '--config-dir', overrides, '--json']);
    expect(shown.code, shown.stderr).toBe(0);
    const cfg = json<{
      config: {
        worker: { max_concurrent_handlers: number; completion_batch_size: number };
        common: { logging: { level: string } };
      };
    }>(shown).config;
    expect(cfg.worker.max_concurrent_handlers).toBe(13);
    expect(cfg.common.logging.level).toBe('warn');
    // Untouched keys still come from the shipped base.
    expect(cfg.worker.completion_batch_size).toBeGreaterThan(0);
  });

  it('TASKER__SECTION__KEY variables set keys; a bad one is reported with its name (exit 2)', async () => {
    const shown = await tasker(['config', 'show', '--env', 'test', '--json'], {
      TASKER__WORKER__MAX_CONCURRENT_HANDLERS: '21',
    });
    expect(shown.code, shown.stderr).toBe(0);
    expect(
      json<{ config: { worker: { max_concurrent_handlers: number } } }>(shown).config.worker
        .max_concurrent_handlers,
    ).toBe(21);
    const bad = await tasker(['config', 'validate', '--env', 'test'], {
      TASKER__WORKER__MAX_CONCURRENT_HANDLERS: 'many',
    });
    expect(bad.code).toBe(2);
    expect(bad.stdout).toContain(
      "worker.max_concurrent_handlers: expected a number (got 'many') (TASKER__WORKER__MAX_CONCURRENT_HANDLERS)",
    );
  });
});
