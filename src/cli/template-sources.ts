/**
 * Where `--templates` (and `tasker template validate`) find templates: a directory of YAML files, one YAML
 * file, or a JavaScript/TypeScript module exporting templates built with the DSL.
 */
import { readFile, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { TemplateValidationError, type ValidationIssue } from '../errors.js';
import { loadTemplatesFromDir, parseYamlTemplate, validateTemplate } from '../templates/index.js';
import { templateKey, type TaskTemplate } from '../templates/types.js';
import { UsageError } from './exit-codes.js';
import { importUserModule, isModulePath } from './module-loader.js';

const YAML_FILE = /\.ya?ml$/i;

/**
 * True for what `defineTemplate(...).build()` returns: an object with string `namespace`, `name` and `version`
 * and a `steps` array. (Its content is validated afterwards; this only decides what counts as a template.)
 */
export function isBuiltTemplate(value: unknown): value is TaskTemplate {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const t = value as Partial<Record<keyof TaskTemplate, unknown>>;
  return (
    typeof t.namespace === 'string' &&
    typeof t.name === 'string' &&
    typeof t.version === 'string' &&
    Array.isArray(t.steps)
  );
}

/**
 * The templates a module exports: every export (the default export included) that is a built template, or an
 * array of them; for a CommonJS module, every property of `module.exports` likewise. Other exports (handlers,
 * helpers) are ignored. Each template is validated.
 * @throws TemplateValidationError naming `source` when one is invalid.
 */
export function templatesFromModule(mod: Record<string, unknown>, source: string): TaskTemplate[] {
  const found = new Set<TaskTemplate>();
  const values = Object.values(mod);
  // A CommonJS module (e.g. a .ts file compiled as CommonJS) arrives as { default: module.exports }.
  const cjs = mod.default;
  if (cjs !== null && typeof cjs === 'object' && !Array.isArray(cjs) && !isBuiltTemplate(cjs)) {
    values.push(...Object.values(cjs as Record<string, unknown>));
  }
  for (const value of values) {
    for (const v of Array.isArray(value) ? (value as unknown[]) : [value]) {
      if (isBuiltTemplate(v)) found.add(v);
    }
  }
  const issues: ValidationIssue[] = [];
  for (const t of found) {
    issues.push(...validateTemplate(t).map((i) => ({ ...i, source, path: `${templateKey(t)}: ${i.path}` })));
  }
  if (issues.length > 0) throw new TemplateValidationError(`invalid template in ${source}`, issues);
  return [...found];
}

/** Templates from one path: a directory (YAML files, recursively), a YAML file, or a module. */
export async function loadTemplateSource(path: string): Promise<TaskTemplate[]> {
  const full = resolve(path);
  const info = await stat(full).catch(() => undefined);
  if (!info) {
    throw new UsageError(
      `templates not found: ${path}`,
      'pass a directory of YAML templates, a .yaml file, or a .js/.ts module exporting templates',
    );
  }
  if (info.isDirectory()) return loadTemplatesFromDir(full);
  if (YAML_FILE.test(full)) return [parseYamlTemplate(await readFile(full, 'utf8'), path)];
  if (isModulePath(full)) {
    const templates = templatesFromModule(await importUserModule(path, 'templates module'), path);
    if (templates.length === 0) {
      throw new UsageError(
        `${path} exports no templates`,
        'export the result of defineTemplate(...).build() (or an array of them)',
      );
    }
    return templates;
  }
  throw new UsageError(
    `cannot read templates from ${path}`,
    'pass a directory of YAML templates, a .yaml/.yml file, or a .js/.mjs/.ts/.mts module',
  );
}

/** Templates from every path, refusing one `namespace/name@version` defined twice. */
export async function loadTemplateSources(paths: readonly string[]): Promise<TaskTemplate[]> {
  const all: TaskTemplate[] = [];
  const seen = new Map<string, string>();
  for (const path of paths) {
    for (const t of await loadTemplateSource(path)) {
      const key = templateKey(t);
      const other = seen.get(key);
      if (other !== undefined) {
        throw new UsageError(`template ${key} is defined in both ${other} and ${path}`);
      }
      seen.set(key, path);
      all.push(t);
    }
  }
  return all;
}
