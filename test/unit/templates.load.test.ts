import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TemplateValidationError } from '../../src/errors.js';
import { loadTemplatesFromDir } from '../../src/templates/index.js';

const tpl = (name: string, version = '1.0.0', extra = ''): string =>
  `name: ${name}\nnamespace_name: ns\nversion: "${version}"\nsteps:\n  - name: a\n    handler: A\n${extra}`;

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tasker-templates-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('loadTemplatesFromDir', () => {
  it('loads .yml and .yaml files recursively, in sorted order, and skips other files', async () => {
    await mkdir(join(dir, 'sub', 'deeper'), { recursive: true });
    await writeFile(join(dir, 'b.yaml'), tpl('b'));
    await writeFile(join(dir, 'a.yml'), tpl('a'));
    await writeFile(join(dir, 'sub', 'deeper', 'c.YML'), tpl('c'));
    await writeFile(join(dir, 'notes.txt'), 'not: a template');
    await writeFile(join(dir, 'sub', 'readme.md'), '# hi');
    const templates = await loadTemplatesFromDir(dir);
    expect(templates.map((t) => t.name)).toEqual(['a', 'b', 'c']);
  });

  it('passes retry defaults to every file', async () => {
    await writeFile(join(dir, 'a.yml'), tpl('a'));
    const [t] = await loadTemplatesFromDir(dir, { maxAttempts: 9 });
    expect(t!.steps[0]!.retry.maxAttempts).toBe(9);
  });

  it('reports the problems of every invalid file, each naming its file and line', async () => {
    await mkdir(join(dir, 'x'));
    await writeFile(join(dir, 'good.yml'), tpl('good'));
    await writeFile(join(dir, 'bad1.yml'), tpl('bad1', '1.0'));
    await writeFile(join(dir, 'x', 'bad2.yaml'), 'name: [\n');
    try {
      await loadTemplatesFromDir(dir);
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(TemplateValidationError);
      const err = e as TemplateValidationError;
      expect(err.issues.map((i) => [i.source, i.path, i.line])).toEqual([
        [join(dir, 'bad1.yml'), 'version', 3],
        [join(dir, 'x', 'bad2.yaml'), '', 2],
      ]);
      expect(err.message).toContain('2 template files');
      expect(err.message).toContain(`${join(dir, 'bad1.yml')}:3`);
    }
  });

  it('rejects two files defining the same namespace/name@version', async () => {
    await writeFile(join(dir, 'one.yml'), tpl('same'));
    await writeFile(join(dir, 'two.yml'), tpl('same'));
    await writeFile(join(dir, 'three.yml'), tpl('same', '1.1.0'));
    const err = await loadTemplatesFromDir(dir).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TemplateValidationError);
    expect((err as TemplateValidationError).issues).toEqual([
      {
        path: '',
        source: join(dir, 'two.yml'),
        message: `template ns/same@1.0.0 is already defined in ${join(dir, 'one.yml')}`,
      },
    ]);
  });

  it('follows symbolic links without looping', async () => {
    await mkdir(join(dir, 'real'));
    await writeFile(join(dir, 'real', 'a.yml'), tpl('a'));
    await symlink(join(dir, 'real'), join(dir, 'link'));
    await symlink(dir, join(dir, 'real', 'back'));
    await symlink(join(dir, 'missing'), join(dir, 'dangling.yml'));
    const templates = await loadTemplatesFromDir(dir);
    expect(templates.map((t) => t.name)).toEqual(['a']);
  });

  it('returns nothing for an empty directory and names a missing one', async () => {
    expect(await loadTemplatesFromDir(dir)).toEqual([]);
    const missing = join(dir, 'nope');
    const err = await loadTemplatesFromDir(missing).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TemplateValidationError);
    expect((err as TemplateValidationError).issues[0]!.source).toBe(missing);
  });
});
