/**
 * The SQL a database is built from, as files: numbered migrations (`migrations/NNNN_name.sql`: tables, indexes,
 * constraints and data, in the order they happened) and one definition file per function
 * (`sql/functions/<name>.sql`: the function as it is now). See docs/adr/0007-sql-layout.md.
 */
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { ErrorCode, TaskerError } from '../errors.js';

/** Directory holding `NNNN_name.sql` files. */
export const MIGRATIONS_DIR = fileURLToPath(new URL('../../migrations/', import.meta.url));
/** Directory holding `<function_name>.sql` files. */
export const FUNCTIONS_DIR = fileURLToPath(new URL('../../sql/functions/', import.meta.url));

export interface Migration {
  version: number;
  name: string;
  sql: string;
  checksum: string;
}

/** One function's current definition (`CREATE OR REPLACE FUNCTION tasker.<name>(...)`). */
export interface FunctionDefinition {
  name: string;
  sql: string;
  checksum: string;
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** Reads the migration files in version order; names must be `NNNN_snake_name.sql`. */
export async function loadMigrations(dir: string = MIGRATIONS_DIR): Promise<Migration[]> {
  const files = (await readdir(dir)).filter((f) => f.endsWith('.sql')).sort();
  const migrations: Migration[] = [];
  const seen = new Map<number, string>();
  for (const file of files) {
    const match = /^(\d{4})_([a-z0-9_]+)\.sql$/.exec(file);
    if (!match) {
      throw new TaskerError(ErrorCode.MigrationFailed, `migration file '${file}' is not named NNNN_name.sql`);
    }
    const version = Number(match[1]);
    const clash = seen.get(version);
    if (clash) {
      throw new TaskerError(
        ErrorCode.MigrationFailed,
        `duplicate migration version ${version}: ${clash} and ${file}`,
      );
    }
    seen.set(version, file);
    const sql = await readFile(`${dir}/${file}`, 'utf8');
    migrations.push({ version, name: match[2] ?? file, sql, checksum: sha256(sql) });
  }
  return migrations;
}

/**
 * Reads the function definition files, sorted by name. Each is named after the one function it defines, and
 * defines nothing else, so a reader who knows a function's name knows where its definition is.
 */
export async function loadFunctions(dir: string = FUNCTIONS_DIR): Promise<FunctionDefinition[]> {
  const files = (await readdir(dir)).filter((f) => f.endsWith('.sql')).sort();
  const functions: FunctionDefinition[] = [];
  for (const file of files) {
    const name = file.slice(0, -'.sql'.length);
    const sql = await readFile(`${dir}/${file}`, 'utf8');
    const defined = [...sql.matchAll(/CREATE (?:OR REPLACE )?FUNCTION tasker\.([a-z0-9_]+)\s*\(/gi)].map(
      (m) => m[1],
    );
    if (!/^[a-z][a-z0-9_]*$/.test(name) || defined.length !== 1 || defined[0] !== name) {
      throw new TaskerError(
        ErrorCode.MigrationFailed,
        `function file '${file}' must define exactly one function, tasker.${name} (it defines: ${defined.join(', ') || 'none'})`,
      );
    }
    functions.push({ name, sql, checksum: sha256(sql) });
  }
  return functions;
}
