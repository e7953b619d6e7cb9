import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { TransferError } from './model.js';

/**
 * A persisted Chroma directory's layout: the schema migrations its `chroma.sqlite3` records (`dir/filename`, e.g.
 * `sysdb/00004-tenants-databases.sqlite.sql`). Each Chroma release applies the migrations it ships when it opens a
 * directory, so the set identifies the release line that wrote it: 0.4.15-0.4.24 write 8, 1.5.9 writes 18.
 */
export type ChromaLayout = string[];

export class ChromaDirectoryError extends TransferError {}

/** Reads the migrations of `dir/chroma.sqlite3` (read-only). Fails naming the directory when it is no Chroma 0.4+ one. */
export function readChromaLayout(dir: string): ChromaLayout {
  const file = path.join(dir, 'chroma.sqlite3');
  if (!existsSync(dir)) throw new ChromaDirectoryError(`--from-dir ${dir}: no such directory`);
  if (!existsSync(file)) {
    const legacy = readdirSync(dir).some((f) => f.endsWith('.parquet') || f === 'chroma.duckdb');
    throw new ChromaDirectoryError(
      `--from-dir ${dir}: no chroma.sqlite3${legacy ? ' (parquet/duckdb files: a Chroma 0.3.x directory, which the 0.4 line migrates with its chroma-migrate tool first)' : ''}`,
      {
        problems: [`${dir} is not a persisted Chroma directory (0.4.x or later): chroma.sqlite3 is missing`],
      },
    );
  }
  let db: Database.Database | undefined;
  try {
    db = new Database(file, { readonly: true, fileMustExist: true });
    const rows = db.prepare('SELECT dir, filename FROM migrations ORDER BY dir, version').all() as {
      dir: string;
      filename: string;
    }[];
    return rows.map((r) => `${r.dir}/${r.filename}`).sort();
  } catch (error) {
    throw new ChromaDirectoryError(
      `--from-dir ${dir}: chroma.sqlite3 has no readable migrations table: ${(error as Error).message}`,
      { cause: error },
    );
  } finally {
    db?.close();
  }
}

export interface LayoutComparison {
  same: boolean;
  /** Migrations in the directory that the version does not ship: a newer (or another) release wrote it. */
  unknown: string[];
  /** Migrations the version ships that the directory lacks: an older release wrote it. */
  missing: string[];
}

export function compareLayouts(directory: ChromaLayout, version: ChromaLayout): LayoutComparison {
  const known = new Set(version);
  const found = new Set(directory);
  const unknown = directory.filter((m) => !known.has(m));
  const missing = version.filter((m) => !found.has(m));
  return { same: unknown.length === 0 && missing.length === 0, unknown, missing };
}

/**
 * The error for a directory written by another Chroma version than the one named: says which way it differs and
 * which installed version(s) share its layout.
 */
export function layoutMismatch(
  dir: string,
  named: string,
  comparison: LayoutComparison,
  matching: string[],
): ChromaDirectoryError {
  const problems: string[] = [];
  if (comparison.unknown.length > 0)
    problems.push(
      `it records ${comparison.unknown.length} migration(s) Chroma ${named} does not know (written by a newer release): ${comparison.unknown.slice(0, 4).join(', ')}${comparison.unknown.length > 4 ? ', ...' : ''}`,
    );
  if (comparison.missing.length > 0)
    problems.push(
      `it lacks ${comparison.missing.length} migration(s) Chroma ${named} applies (written by an older release; ${named} would migrate it): ${comparison.missing.slice(0, 4).join(', ')}${comparison.missing.length > 4 ? ', ...' : ''}`,
    );
  return new ChromaDirectoryError(
    `--from-dir ${dir} was written by another Chroma version than --chroma-version ${named}`,
    {
      problems,
      remedy:
        matching.length > 0
          ? `its layout matches Chroma ${matching.join(', ')}: run with --chroma-version ${matching[0]} (or leave --chroma-version out to detect it)`
          : 'no supported Chroma version writes this layout; see docs/migration.md for the supported versions',
    },
  );
}
