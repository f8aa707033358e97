/**
 * The SQL the database is built from, read as text for static checks: every function file, every migration and
 * every generated table file, with comments blanked out (so prose never counts) and each quoted literal found with
 * its file and line (so a failing check can say where to look).
 */
import { readdir, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { FUNCTIONS_DIR, MIGRATIONS_DIR } from '../../src/db/sql-files.js';

const TABLES_DIR = fileURLToPath(new URL('../../sql/tables/', import.meta.url));

/** One SQL file: its path relative to the repository and its code with comments replaced by spaces. */
export interface SqlSource {
  file: string;
  code: string;
}

/** A quoted literal ('...') of a SQL file. */
export interface SqlLiteral {
  value: string;
  /** `file:line`, for messages. */
  at: string;
}

/**
 * Blanks out `-- ...` and `/* ... *\/` comments, keeping string literals (with their '' escapes) and every line
 * break, so offsets and line numbers still match the file. Dollar-quoted function bodies are code, not strings.
 */
export function stripComments(text: string): string {
  let out = '';
  let i = 0;
  while (i < text.length) {
    const ch = text[i]!;
    if (ch === "'") {
      const end = stringEnd(text, i);
      out += text.slice(i, end);
      i = end;
    } else if (text.startsWith('--', i)) {
      const end = text.indexOf('\n', i);
      const stop = end === -1 ? text.length : end;
      out += ' '.repeat(stop - i);
      i = stop;
    } else if (text.startsWith('/*', i)) {
      const end = text.indexOf('*/', i + 2);
      const stop = end === -1 ? text.length : end + 2;
      out += text.slice(i, stop).replace(/[^\n]/g, ' ');
      i = stop;
    } else {
      out += ch;
      i++;
    }
  }
  return out;
}

/** The offset just past the literal that opens at `start` ('' inside a literal is an escaped quote). */
function stringEnd(text: string, start: number): number {
  let i = start + 1;
  while (i < text.length) {
    if (text[i] === "'") {
      if (text[i + 1] === "'") i += 2;
      else return i + 1;
    } else {
      i++;
    }
  }
  return text.length;
}

/** `file:line` of an offset. */
export function locate(source: SqlSource, offset: number): string {
  return `${source.file}:${source.code.slice(0, offset).split('\n').length}`;
}

/** Every quoted literal of a source, with where it is. */
export function literalsOf(source: SqlSource): SqlLiteral[] {
  const found: SqlLiteral[] = [];
  const code = source.code;
  for (let i = 0; i < code.length;) {
    if (code[i] === "'") {
      const end = stringEnd(code, i);
      found.push({ value: code.slice(i + 1, end - 1).replace(/''/g, "'"), at: locate(source, i) });
      i = end;
    } else {
      i++;
    }
  }
  return found;
}

/** Every match of `pattern` (global) in the sources, with its capture groups and where it is. */
export function matchesIn(
  sources: readonly SqlSource[],
  pattern: RegExp,
): { groups: string[]; at: string; source: SqlSource }[] {
  const out: { groups: string[]; at: string; source: SqlSource }[] = [];
  for (const source of sources) {
    for (const m of source.code.matchAll(pattern)) {
      out.push({ groups: m.slice(1).map((g) => g ?? ''), at: locate(source, m.index), source });
    }
  }
  return out;
}

async function readDir(dir: string, label: string): Promise<SqlSource[]> {
  const files = (await readdir(dir)).filter((f) => f.endsWith('.sql')).sort();
  return Promise.all(
    files.map(async (f) => ({
      file: `${label}/${f}`,
      code: stripComments(await readFile(`${dir}/${f}`, 'utf8')),
    })),
  );
}

/** The SQL of the repository: function files, migrations and generated table files. */
export async function loadSqlSources(): Promise<{
  functions: SqlSource[];
  migrations: SqlSource[];
  tables: SqlSource[];
}> {
  const [functions, migrations, tables] = await Promise.all([
    readDir(FUNCTIONS_DIR, 'sql/functions'),
    readDir(MIGRATIONS_DIR, 'migrations'),
    readDir(TABLES_DIR, 'sql/tables'),
  ]);
  return { functions, migrations, tables };
}
