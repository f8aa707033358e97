/** CLI commands that work without an API or database: run as real processes. */
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { json, root, tasker } from './run.js';

const dir = mkdtempSync(join(tmpdir(), 'tasker-cli-local-'));
// An ES module package, like Tasker itself: its .ts files are ES modules.
writeFileSync(join(dir, 'package.json'), '{"type":"module"}\n');

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

/** No stack trace: user mistakes are explained, not dumped. */
function expectNoStack(text: string): void {
  expect(text).not.toMatch(/^\s+at /m);
}

describe('tasker usage', () => {
  it('--version prints the version in package.json', async () => {
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string };
    const res = await tasker(['--version']);
    expect(res.code).toBe(0);
    expect(res.stdout.trim()).toBe(pkg.version);
  });

  const handlers = write('handlers.mjs', "export const h = { name: 'h', fn: () => ({ ok: true }) };\n");
  const cases: [string, string[], RegExp, RegExp][] = [
    [
      'a wrong flag',
      ['task', 'list', '--bogus'],
      /unknown option '--bogus'/,
      /hint: run 'tasker task list --help'/,
    ],
    [
      'a missing handlers file',
      ['worker', '--handlers', join(dir, 'missing.ts')],
      /handlers module not found/,
      /hint: check the path/,
    ],
    ['no namespace', ['worker', '--handlers', handlers], /no namespace to serve/, /hint: pass --namespace/],
    [
      'missing templates',
      ['worker', '--handlers', handlers, '--templates', join(dir, 'nowhere')],
      /templates not found/,
      /hint: pass a directory/,
    ],
    ['a mistyped command', ['task', 'lst'], /unknown command 'lst'/, /Did you mean list\?/],
  ];
  it.each(cases)('%s: exit 2 with a hint, no stack trace', async (_what, args, error, hint) => {
    const res = await tasker(args, { DATABASE_URL: 'postgresql://postgres@127.0.0.1:1/none' });
    expect(res.code, `${args.join(' ')}: ${res.stderr}`).toBe(2);
    expect(res.stderr).toMatch(error);
    expect(res.stderr).toMatch(hint);
    expectNoStack(res.stderr);
  });
});

describe('tasker template validate works offline', () => {
  // Nothing listens here: a command that needed the API would fail with exit 2.
  const offline = { TASKER_URL: 'http://127.0.0.1:9/' };
  const dsl = pathToFileURL(join(root, 'src', 'templates', 'index.ts')).href;

  it('a valid YAML file exits 0 and draws the DAG; a broken one exits 1 with located issues', async () => {
    const good = write(
      'good.yaml',
      'name: pair\nnamespace_name: local\nversion: 1.0.0\nsteps:\n  - { name: a, handler: { callable: h } }\n  - { name: b, handler: { callable: h }, depends_on: [a] }\n',
    );
    const ok = await tasker(['template', 'validate', good], offline);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toContain(`${good}: valid (local/pair@1.0.0, 2 steps)`);
    expect(ok.stdout).toContain('b  ◀─ a');
    const bad = write(
      'bad.yaml',
      'name: pair\nnamespace_name: local\nversion: 1.0.0\nsteps:\n  - { name: a, handler: { callable: h }, depends_on: [zzz] }\n',
    );
    const res = await tasker(['template', 'validate', bad], offline);
    expect(res.code).toBe(1);
    expect(res.stdout).toContain(`${bad}:5: steps[0].depends_on[0]`);
    expect(res.stdout).toContain('zzz');
  });

  it('a TypeScript module of DSL templates is validated too; an invalid one exits 1', async () => {
    const good = write(
      'flows.ts',
      `import { defineTemplate } from '${dsl}';\nexport const flow = defineTemplate({ namespace: 'local', name: 'ts_flow', version: '1.0.0' }).step('only', { handler: 'h' }).build();\n`,
    );
    const ok = await tasker(['template', 'validate', good, '--json'], offline);
    expect(ok.code, ok.stderr).toBe(0);
    expect(json<{ valid: boolean; template: { name: string } }>(ok)).toMatchObject({
      valid: true,
      template: { name: 'ts_flow' },
    });
    const bad = write(
      'broken-flows.ts',
      `import { defineTemplate } from '${dsl}';\nexport const flow = defineTemplate({ namespace: 'local', name: 'ts_flow', version: '1.0.0' }).step('x', { handler: 'h' }).step('x', { handler: 'h' }).build();\n`,
    );
    const res = await tasker(['template', 'validate', bad], offline);
    expect(res.code, res.stderr).toBe(1);
    expect(res.stdout).toContain("duplicate step name 'x'");
    expectNoStack(res.stdout + res.stderr);
  });
});
