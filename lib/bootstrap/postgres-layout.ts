import type pg from 'pg';
import type { PostgresLayout } from '../../schemas/postgres/layout.js';

/** One way the live database differs from the layout. */
export interface LayoutDifference {
  /** `schema.table`, `schema.table.column` or `schema.index`. */
  target: string;
  field: string;
  expected: string;
  actual: string;
}

/**
 * Compares a schema of the live database with the layout: missing tables and columns, column types, and each vector
 * index's method, operator class and storage parameters. Columns a user added are not differences.
 */
export async function layoutDifferences(
  client: pg.Client,
  schema: string,
  layout: PostgresLayout,
): Promise<LayoutDifference[]> {
  const { rows: columns } = await client.query<{ table: string; column: string; type: string }>(
    `SELECT c.relname AS table, a.attname AS column, format_type(a.atttypid, a.atttypmod) AS type
       FROM pg_attribute a
       JOIN pg_class c ON c.oid = a.attrelid
       JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped`,
    [schema],
  );
  const live = new Map<string, Map<string, string>>();
  for (const { table, column, type } of columns) {
    if (!live.has(table)) live.set(table, new Map());
    live.get(table)!.set(column, type);
  }
  const out: LayoutDifference[] = [];
  for (const [table, expectedColumns] of Object.entries(layout.tables)) {
    const found = live.get(table);
    if (!found) {
      out.push({ target: `${schema}.${table}`, field: 'table', expected: 'present', actual: 'missing' });
      continue;
    }
    for (const [column, type] of Object.entries(expectedColumns)) {
      const actual = found.get(column);
      if (actual !== type)
        out.push({
          target: `${schema}.${table}`,
          field: `column ${column}`,
          expected: type,
          actual: actual ?? 'missing',
        });
    }
  }

  for (const index of layout.vectorIndexes) {
    const target = `${schema}.${index.name}`;
    const { rows } = await client.query<{ method: string; opclass: string; options: string[] | null }>(
      `SELECT am.amname AS method, opc.opcname AS opclass, c.reloptions AS options
         FROM pg_class c
         JOIN pg_index i ON i.indexrelid = c.oid
         JOIN pg_am am ON am.oid = c.relam
         JOIN pg_opclass opc ON opc.oid = i.indclass[0]
        WHERE c.oid = to_regclass($1)`,
      [target],
    );
    const liveIndex = rows[0];
    if (!liveIndex) {
      if (live.has(index.table))
        out.push({ target, field: 'index', expected: index.method, actual: 'missing' });
      continue;
    }
    const add = (field: string, expected: string, actual: string) => {
      if (expected !== actual) out.push({ target, field, expected, actual });
    };
    const options = Object.fromEntries(
      (liveIndex.options ?? []).map((o) => o.split('=') as [string, string]),
    );
    add('method', index.method, liveIndex.method);
    add('operator class (metric)', index.opclass, liveIndex.opclass);
    // pgvector's defaults when WITH (...) omits them.
    const defaults: Record<string, string> = { m: '16', ef_construction: '64', lists: '100' };
    for (const [key, value] of Object.entries(index.options))
      add(key, value, options[key] ?? defaults[key] ?? 'default');
  }
  return out;
}
