/** Loads every YAML template under a directory. */
import { readdir, readFile, realpath, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { TemplateValidationError, type ValidationIssue } from '../errors.js';
import type { RetryDefaults } from './retry.js';
import { templateKey, type TaskTemplate } from './types.js';
import { parseYamlTemplate } from './yaml.js';

const TEMPLATE_FILE = /\.ya?ml$/i;

/**
 * Parses every `*.yml` / `*.yaml` file under `dir`, recursively, in a stable (sorted) order.
 * All files are read before anything is reported, so one error lists the problems of every file.
 * @throws TemplateValidationError when `dir` is unreadable, any file is invalid, or two files define the same
 *   `namespace/name@version`; each issue's `source` names the file.
 */
export async function loadTemplatesFromDir(
  dir: string,
  retryDefaults?: Partial<RetryDefaults>,
): Promise<TaskTemplate[]> {
  const issues: ValidationIssue[] = [];
  let files: string[];
  try {
    files = await findTemplateFiles(dir);
  } catch (err) {
    const issue = {
      path: '',
      source: dir,
      message: `cannot read template directory: ${(err as Error).message}`,
    };
    throw new TemplateValidationError(`cannot load templates from ${dir}`, [issue]);
  }

  const templates: TaskTemplate[] = [];
  const definedIn = new Map<string, string>();
  for (const file of files) {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      issues.push({ path: '', source: file, message: `cannot read file: ${(err as Error).message}` });
      continue;
    }
    try {
      const template = parseYamlTemplate(text, file, retryDefaults);
      const key = templateKey(template);
      const other = definedIn.get(key);
      if (other !== undefined) {
        issues.push({ path: '', source: file, message: `template ${key} is already defined in ${other}` });
        continue;
      }
      definedIn.set(key, file);
      templates.push(template);
    } catch (err) {
      if (!(err instanceof TemplateValidationError)) throw err;
      issues.push(...err.issues);
    }
  }

  if (issues.length > 0) {
    const badFiles = new Set(issues.map((i) => i.source)).size;
    throw new TemplateValidationError(
      `${badFiles} template file${badFiles === 1 ? '' : 's'} under ${dir} ${badFiles === 1 ? 'is' : 'are'} invalid`,
      issues,
    );
  }
  return templates;
}

/** Template files under `dir`, sorted. Follows symbolic links, but visits each real directory only once. */
async function findTemplateFiles(dir: string): Promise<string[]> {
  const found: string[] = [];
  const visited = new Set<string>();
  const walk = async (d: string): Promise<void> => {
    const real = await realpath(d);
    if (visited.has(real)) return;
    visited.add(real);
    const entries = await readdir(d, { withFileTypes: true });
    for (const entry of entries) {
      const full = join(d, entry.name);
      let isDir = entry.isDirectory();
      let isFile = entry.isFile();
      if (entry.isSymbolicLink()) {
        const target = await stat(full).catch(() => undefined);
        // A dangling link is skipped rather than failing the whole load.
        if (!target) continue;
        isDir = target.isDirectory();
        isFile = target.isFile();
      }
      if (isDir) await walk(full);
      else if (isFile && TEMPLATE_FILE.test(entry.name)) found.push(full);
    }
  };
  await walk(dir);
  return found.sort();
}
