/**
 * The current shape of every table in the `tasker` schema, read from the catalog and written as SQL a reader can
 * take in at once: `sql/tables/<table>.sql`. Migrations hold a table's history; these files hold what it is now,
 * and a test regenerates them from a database migrated from scratch to catch any drift.
 */
import type pg from 'pg';

/** One table's generated definition. */
export interface TableDefinition {
  name: string;
  sql: string;
}

interface ColumnRow {
  table_name: string;
  column_name: string;
  column_type: string;
  not_null: boolean;
  default_expr: string | null;
}

interface ConstraintRow {
  table_name: string;
  name: string;
  definition: string;
}

interface IndexRow {
  table_name: string;
  definition: string;
}

interface CommentRow {
  table_name: string;
  comment: string | null;
}

/** Regenerate the committed files with this command. */
export const SCHEMA_DUMP_COMMAND = 'npm run schema:dump';

const HEADER =
  `-- Generated from the catalog of a database migrated from scratch (${SCHEMA_DUMP_COMMAND}); do not edit.\n` +
  '-- The current shape of this table; its history is in migrations/.\n';

/** Reads every table of the `tasker` schema (columns, constraints, other indexes), sorted by name. */
export async function dumpTables(db: Pick<pg.Pool, 'query'>): Promise<TableDefinition[]> {
  const columns = await db.query<ColumnRow>(`
    SELECT c.relname AS table_name, a.attname AS column_name,
           format_type(a.atttypid, a.atttypmod) AS column_type, a.attnotnull AS not_null,
           pg_get_expr(d.adbin, d.adrelid) AS default_expr
    FROM pg_class c
    JOIN pg_namespace n ON n.oid = c.relnamespace
    JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
    LEFT JOIN pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum
    WHERE n.nspname = 'tasker' AND c.relkind IN ('r', 'p')
    ORDER BY c.relname, a.attnum`);
  const constraints = await db.query<ConstraintRow>(`
    SELECT c.relname AS table_name, k.conname AS name, pg_get_constraintdef(k.oid, true) AS definition
    FROM pg_constraint k
    JOIN pg_class c ON c.oid = k.conrelid
    JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = 'tasker' AND k.contype IN ('p', 'u', 'c', 'f', 'x')
    ORDER BY c.relname, array_position(ARRAY['p', 'u', 'x', 'f', 'c']::"char"[], k.contype), k.conname`);
  const indexes = await db.query<IndexRow>(`
    SELECT c.relname AS table_name, pg_get_indexdef(i.indexrelid) AS definition
    FROM pg_index i
    JOIN pg_class c ON c.oid = i.indrelid
    JOIN pg_class ic ON ic.oid = i.indexrelid
    JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = 'tasker'
      AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid AND k.contype IN ('p', 'u', 'x'))
    ORDER BY c.relname, ic.relname`);
  const comments = await db.query<CommentRow>(`
    SELECT c.relname AS table_name, obj_description(c.oid, 'pg_class') AS comment
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = 'tasker' AND c.relkind IN ('r', 'p')`);

  const byTable = new Map<string, string[]>();
  for (const col of columns.rows) {
    const parts = [`  ${col.column_name} ${col.column_type}`];
    if (col.not_null) parts.push('NOT NULL');
    if (col.default_expr !== null) parts.push(`DEFAULT ${col.default_expr}`);
    const lines = byTable.get(col.table_name) ?? [];
    lines.push(parts.join(' '));
    byTable.set(col.table_name, lines);
  }
  for (const k of constraints.rows) byTable.get(k.table_name)?.push(`  CONSTRAINT ${k.name} ${k.definition}`);

  return [...byTable.keys()].sort().map((name) => {
    const comment = comments.rows.find((c) => c.table_name === name)?.comment;
    const body = `CREATE TABLE tasker.${name} (\n${byTable.get(name)!.join(',\n')}\n);\n`;
    const idx = indexes.rows.filter((i) => i.table_name === name).map((i) => `${i.definition};\n`);
    const commentSql = comment
      ? `COMMENT ON TABLE tasker.${name} IS '${comment.replace(/'/g, "''")}';\n`
      : '';
    return { name, sql: HEADER + '\n' + body + idx.join('') + commentSql };
  });
}
