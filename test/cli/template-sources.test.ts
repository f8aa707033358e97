/** `--templates` sources: directories and files of YAML, and JS/TS modules exporting DSL templates. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { UsageError } from '../../src/cli/exit-codes.js';
import { loadTemplateSources } from '../../src/cli/template-sources.js';
import { RetryableError, TemplateValidationError } from '../../src/errors.js';
import { loadHandlers } from '../../src/cli/common.js';
import { defineTemplate } from '../../src/templates/index.js';
import { root } from './run.js';

const dir = mkdtempSync(join(tmpdir(), 'tasker-template-sources-'));
// An ES module package, like Tasker itself: its .ts files are ES modules.
writeFileSync(join(dir, 'package.json'), '{"type":"module"}\n');
const dsl = pathToFileURL(join(root, 'src', 'templates', 'index.ts')).href;
const file = (name: string, text: string): string => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};

const yamlFile = file(
  'one.yaml',
  'name: from_yaml\nnamespace_name: src_test\nversion: 1.0.0\nsteps:\n  - { name: a, handler: { callable: h } }\n',
);
const tsModule = file(
  'templates.ts',
  [
    `import { defineTemplate } from '${dsl}';`,
    `const base = defineTemplate({ namespace: 'src_test', name: 'from_ts', version: '1.0.0' });`,
    `export const fromTs = base.step('a', { handler: 'h' }).step('b', { handler: 'h', dependsOn: ['a'] }).build();`,
    `export default [defineTemplate({ namespace: 'src_test', name: 'from_ts_default', version: '2.0.0' }).step('x', { handler: 'h' }).build()];`,
    `export const notATemplate = { name: 'x', fn: (): number => 1 };`,
    '',
  ].join('\n'),
);
// What a compiled module holds: the built template as a plain object.
const built = defineTemplate({ namespace: 'src_test', name: 'from_js', version: '1.0.0' })
  .step('a', { handler: 'h' })
  .step('b', { handler: 'h', dependsOn: ['a'] })
  .build();
const jsModule = file('templates.mjs', `export const t = ${JSON.stringify(built)};\n`);

describe('loadTemplateSources', () => {
  it('reads a directory of YAML, a YAML file, a TypeScript module and a JavaScript module', async () => {
    const templates = await loadTemplateSources([
      join(root, 'examples', 'templates'),
      yamlFile,
      tsModule,
      jsModule,
    ]);
    const keys = templates.map((t) => `${t.namespace}/${t.name}@${t.version}`);
    expect(keys).toEqual(
      expect.arrayContaining([
        'src_test/from_yaml@1.0.0',
        'src_test/from_ts@1.0.0',
        'src_test/from_ts_default@2.0.0',
        'src_test/from_js@1.0.0',
      ]),
    );
    expect(keys.filter((k) => k.startsWith('examples/')).length).toBeGreaterThanOrEqual(3);
    expect(templates.find((t) => t.name === 'from_ts')?.steps.map((s) => s.name)).toEqual(['a', 'b']);
  });

  it('refuses a template defined twice, a path that does not exist, and a module without templates', async () => {
    await expect(loadTemplateSources([yamlFile, yamlFile])).rejects.toThrow(/defined in both/);
    const missing = await loadTemplateSources([join(dir, 'nope.yaml')]).catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(UsageError);
    expect((missing as UsageError).hint).toContain('directory of YAML templates');
    const empty = file('empty.mjs', 'export const x = 1;\n');
    await expect(loadTemplateSources([empty])).rejects.toThrow(/exports no templates/);
    const wrongKind = file('notes.txt', 'hello');
    await expect(loadTemplateSources([wrongKind])).rejects.toBeInstanceOf(UsageError);
  });

  it('validates module templates: an invalid one is a TemplateValidationError naming the file', async () => {
    const broken = structuredClone(built);
    broken.steps[1]!.dependsOn = ['ghost'];
    const bad = file('bad.mjs', `export default ${JSON.stringify(broken)};\n`);
    const err = await loadTemplateSources([bad]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TemplateValidationError);
    expect((err as TemplateValidationError).issues[0]).toMatchObject({ source: bad });
    expect((err as TemplateValidationError).issues[0]?.message).toContain('ghost');
  });
});

describe('loadHandlers', () => {
  it("a TypeScript handlers module shares Tasker's classes: its RetryableError is ours", async () => {
    const errors = pathToFileURL(join(root, 'src', 'errors.ts')).href;
    const handlerApi = pathToFileURL(join(root, 'src', 'worker', 'handler.ts')).href;
    const mod = file(
      'handlers.ts',
      [
        `import { RetryableError } from '${errors}';`,
        `import { defineHandler } from '${handlerApi}';`,
        `export const flaky = defineHandler('flaky', (): never => { throw new RetryableError('later', { code: 'LATER' }); });`,
        '',
      ].join('\n'),
    );
    const flaky = (await loadHandlers(mod))[0]!;
    let thrown: unknown;
    try {
      await flaky.fn({} as Parameters<typeof flaky.fn>[0]);
    } catch (e) {
      thrown = e;
    }
    // The worker decides retry or not with instanceof: a second copy of the class would make it permanent.
    expect(thrown).toBeInstanceOf(RetryableError);
  });
});
