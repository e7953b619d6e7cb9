import { mkdirSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import * as sqliteVec from 'sqlite-vec';
import { Progress } from '../util/progress.js';
import { renderTable } from '../util/table.js';
import { chromaDistance, topKAgreement } from './compare.js';
import { type ChromaSpace, TransferError, targetIdentifier } from './model.js';
import type { ImportedCollection, TargetSink } from './sink.js';
import { samplePositions } from './verify.js';

/** sqlite-vec's vec0 limits (0.1.x): vector length and typed metadata columns per table. */
export const VEC0_MAX_DIMENSION = 8192;
export const VEC0_MAX_METADATA_COLUMNS = 16;

export type SqliteType = 'integer' | 'float' | 'text' | 'boolean';
type ValueType = SqliteType | 'other';

function valueType(value: unknown): ValueType {
  if (typeof value === 'string') return 'text';
  if (typeof value === 'boolean') return 'boolean';
  if (typeof value === 'number')
    return Number.isSafeInteger(value) ? 'integer' : Number.isFinite(value) ? 'float' : 'other';
  return 'other';
}

/** What one pass over a collection learns: metadata keys with their value types and presence, and vector norms. */
export class CollectionProfile {
  records = 0;
  readonly keys = new Map<string, { present: number; types: Set<ValueType> }>();
  maxNorm = 0;
  allUnit = true;

  add(metadata: Record<string, unknown> | null, embedding: Float32Array): void {
    this.records++;
    for (const [key, value] of Object.entries(metadata ?? {})) {
      const entry = this.keys.get(key) ?? { present: 0, types: new Set<ValueType>() };
      this.keys.set(key, entry);
      if (value === null || value === undefined) continue;
      entry.present++;
      entry.types.add(valueType(value));
    }
    let sum = 0;
    for (const x of embedding) sum += x * x;
    const norm = Math.sqrt(sum);
    this.maxNorm = Math.max(this.maxNorm, norm);
    if (Math.abs(norm - 1) > 1e-4) this.allUnit = false;
  }
}

export interface TypedColumn {
  key: string;
  column: string;
  type: SqliteType;
}

/**
 * Typed (filterable) metadata columns: vec0 metadata columns reject NULL and one column has one type, so a key gets
 * one only when every record has it with a single scalar type (integers mixed with floats count as float). At most
 * `limit`, in key order. Every key, typed or not, also stays in the JSON `metadata` auxiliary column.
 */
export function typedColumns(
  profile: CollectionProfile,
  limit = VEC0_MAX_METADATA_COLUMNS,
): { columns: TypedColumn[]; jsonOnly: string[] } {
  const columns: TypedColumn[] = [];
  const jsonOnly: string[] = [];
  const used = new Set(['id', 'embedding', 'document', 'metadata', 'distance', 'k', 'rowid']);
  for (const key of [...profile.keys.keys()].sort()) {
    const { present, types } = profile.keys.get(key)!;
    let type: SqliteType | undefined;
    if (present === profile.records && !types.has('other')) {
      if (types.size === 1) type = [...types][0] as SqliteType;
      else if (types.size === 2 && types.has('integer') && types.has('float')) type = 'float';
    }
    if (!type || columns.length >= limit) {
      jsonOnly.push(key);
      continue;
    }
    let column = `m_${key.replace(/[^A-Za-z0-9_]/g, '_')}`.slice(0, 60);
    for (let n = 2; used.has(column.toLowerCase()); n++)
      column = `m_${key.replace(/[^A-Za-z0-9_]/g, '_').slice(0, 50)}_${n}`;
    used.add(column.toLowerCase());
    columns.push({ key, column, type });
  }
  return { columns, jsonOnly };
}

/**
 * How a Chroma space is stored in vec0 (which has l2 and cosine only). ip on vectors of norm 1 ranks like cosine;
 * other ip collections get one extra component sqrt(M² - |x|²) (M the largest norm) and l2: then
 * |x' - q'|² = M² + |q|² - 2x·q for q' = [q, 0], the exact inner-product ranking. Queries must append a 0.
 */
export function vec0Metric(
  space: ChromaSpace,
  profile: Pick<CollectionProfile, 'allUnit' | 'maxNorm'>,
): { metric: 'l2' | 'cosine'; transform: 'none' | 'ip-augmented' } {
  if (space === 'l2') return { metric: 'l2', transform: 'none' };
  if (space === 'cosine') return { metric: 'cosine', transform: 'none' };
  return profile.allUnit
    ? { metric: 'cosine', transform: 'none' }
    : { metric: 'l2', transform: 'ip-augmented' };
}

export function storedVector(
  v: Float32Array,
  transform: 'none' | 'ip-augmented',
  maxNorm: number,
): Float32Array {
  if (transform === 'none') return v;
  const out = new Float32Array(v.length + 1);
  out.set(v);
  let sum = 0;
  for (const x of v) sum += x * x;
  out[v.length] = Math.sqrt(Math.max(0, maxNorm * maxNorm - sum));
  return out;
}

export function queryVector(v: Float32Array, transform: 'none' | 'ip-augmented'): Float32Array {
  if (transform === 'none') return v;
  const out = new Float32Array(v.length + 1);
  out.set(v);
  return out;
}

const blob = (v: Float32Array) => Buffer.from(v.buffer, v.byteOffset, v.byteLength);

export function openSqliteVec(file: string, options: { readonly?: boolean } = {}): Database.Database {
  if (!options.readonly) mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  const db = new Database(file, {
    readonly: options.readonly ?? false,
    fileMustExist: options.readonly ?? false,
  });
  sqliteVec.load(db);
  return db;
}

/** vec0 KNN (exact): the k nearest ids to `vector` (already transformed for the table), nearest first. */
export function sqliteVecSearch(
  db: Database.Database,
  table: string,
  vector: Float32Array,
  k: number,
): { id: string; distance: number }[] {
  return db
    .prepare(`SELECT id, distance FROM "${table}" WHERE embedding MATCH ? AND k = ? ORDER BY distance`)
    .all(blob(vector), k) as { id: string; distance: number }[];
}

export interface ExportOptions {
  out: string;
  /** Collections (Chroma names); empty: every complete import in the source. */
  collections?: string[];
  /** @default 1000 */
  pageSize?: number;
  /** Stored vectors used as queries for recall@k. @default 100 */
  sample?: number;
  /** @default 10 */
  k?: number;
  progress?: Progress;
}

export interface ExportedCollection {
  collection: string;
  table: string;
  space: ChromaSpace;
  metric: 'l2' | 'cosine';
  transform: 'none' | 'ip-augmented';
  dimension: number;
  sourceCount: number;
  rows: number;
  typedColumns: TypedColumn[];
  jsonOnlyKeys: string[];
  recall: number;
  queries: number;
  k: number;
  seconds: number;
  ok: boolean;
}

export interface ExportReport {
  out: string;
  source: string;
  collections: ExportedCollection[];
  ok: boolean;
}

/**
 * Exports imported collections from a target into one SQLite file: per collection a vec0 table
 * (`id text primary key, embedding float[d] distance_metric=...`, typed metadata columns, `+document`, `+metadata`
 * JSON) and its description in `vectorstack_collections` / `vectorstack_columns`; then checks the row count and
 * recall@k of the vec0 search against the source's exact search over sampled stored vectors (1.0 expected: both exact).
 */
export async function exportToSqliteVec(source: TargetSink, options: ExportOptions): Promise<ExportReport> {
  const progress = options.progress ?? new Progress();
  const pageSize = options.pageSize ?? 1000;
  const k = options.k ?? 10;
  const available = await source.imported();
  const names = options.collections?.length ? options.collections : available.map((c) => c.chromaName);
  const chosen: ImportedCollection[] = [];
  for (const name of names) {
    const found = available.find((c) => c.chromaName === name);
    if (!found)
      throw new TransferError(
        `collection ${JSON.stringify(name)} is not a complete import in ${source.target}`,
        {
          problems: [
            `no imported collection ${JSON.stringify(name)} in ${source.target}; imported: ${available.map((c) => c.chromaName).join(', ') || '(none)'}`,
          ],
          remedy: `import it first: npm run import:chroma -- --from ... --to ${source.target}`,
        },
      );
    if (found.dimension > VEC0_MAX_DIMENSION)
      throw new TransferError(
        `collection ${name}: dimension ${found.dimension} exceeds vec0's limit of ${VEC0_MAX_DIMENSION}`,
      );
    chosen.push(found);
  }
  const db = openSqliteVec(options.out);
  const results: ExportedCollection[] = [];
  try {
    db.exec(`CREATE TABLE IF NOT EXISTS vectorstack_collections (
      table_name TEXT PRIMARY KEY, chroma_name TEXT NOT NULL, source TEXT NOT NULL, space TEXT NOT NULL, metric TEXT NOT NULL,
      transform TEXT NOT NULL, dimension INTEGER NOT NULL, stored_dimension INTEGER NOT NULL, max_norm REAL, rows INTEGER NOT NULL, exported_at TEXT NOT NULL)`);
    db.exec(`CREATE TABLE IF NOT EXISTS vectorstack_columns (
      table_name TEXT NOT NULL, column_name TEXT NOT NULL, metadata_key TEXT NOT NULL, type TEXT NOT NULL, PRIMARY KEY (table_name, column_name))`);
    for (const c of chosen)
      results.push(await exportOne(db, source, c, { pageSize, k, sample: options.sample ?? 100, progress }));
  } finally {
    db.close();
  }
  return { out: options.out, source: source.target, collections: results, ok: results.every((r) => r.ok) };
}

async function exportOne(
  db: Database.Database,
  source: TargetSink,
  c: ImportedCollection,
  options: { pageSize: number; k: number; sample: number; progress: Progress },
): Promise<ExportedCollection> {
  const started = performance.now();
  const table = targetIdentifier(c.chromaName);
  const profile = new CollectionProfile();
  for await (const page of source.scan(c.chromaName, options.pageSize))
    for (const r of page) profile.add(r.metadata, r.embedding);
  const { columns, jsonOnly } = typedColumns(profile);
  const { metric, transform } = vec0Metric(c.space, profile);
  const stored = c.dimension + (transform === 'ip-augmented' ? 1 : 0);
  options.progress.log(
    `${c.chromaName}: ${profile.records} records → vec0 "${table}" float[${stored}] ${metric}${transform === 'none' ? '' : ` (${transform})`}, ${columns.length} typed metadata column(s)`,
  );
  db.exec(`DROP TABLE IF EXISTS "${table}"`);
  db.prepare('DELETE FROM vectorstack_columns WHERE table_name = ?').run(table);
  db.exec(
    `CREATE VIRTUAL TABLE "${table}" USING vec0(id text primary key, embedding float[${stored}] distance_metric=${metric}${columns.map((col) => `, ${col.column} ${col.type}`).join('')}, +document text, +metadata text)`,
  );
  const insert = db.prepare(
    `INSERT INTO "${table}" (id, embedding${columns.map((col) => `, ${col.column}`).join('')}, document, metadata) VALUES (?, ?${columns.map(() => ', ?').join('')}, ?, ?)`,
  );
  const positions = samplePositions(profile.records, options.sample);
  const queries: Float32Array[] = [];
  let rows = 0;
  const write = db.transaction(
    (
      records: {
        id: string;
        embedding: Float32Array;
        document: string | null;
        metadata: Record<string, unknown> | null;
      }[],
    ) => {
      for (const r of records) {
        const typed = columns.map((col) => {
          const v = r.metadata![col.key];
          return col.type === 'integer' || col.type === 'boolean'
            ? BigInt(v === true ? 1 : v === false ? 0 : (v as number))
            : v;
        });
        insert.run(
          r.id,
          blob(storedVector(r.embedding, transform, profile.maxNorm)),
          ...typed,
          r.document,
          r.metadata === null ? null : JSON.stringify(r.metadata),
        );
      }
    },
  );
  for await (const page of source.scan(c.chromaName, options.pageSize)) {
    page.forEach((r, i) => {
      if (positions.has(rows + i)) queries.push(r.embedding);
    });
    write(page);
    rows += page.length;
  }
  db.prepare('DELETE FROM vectorstack_collections WHERE table_name = ?').run(table);
  db.prepare(
    `INSERT INTO vectorstack_collections VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, datetime('now'))`,
  ).run(
    table,
    c.chromaName,
    source.target,
    c.space,
    metric,
    transform,
    c.dimension,
    stored,
    profile.maxNorm,
    rows,
  );
  for (const col of columns)
    db.prepare('INSERT INTO vectorstack_columns VALUES (?, ?, ?, ?)').run(
      table,
      col.column,
      col.key,
      col.type,
    );
  const written = Number((db.prepare(`SELECT count(*) AS n FROM "${table}"`).get() as { n: number }).n);
  const sourceCount = await source.count(c.chromaName);

  // recall@k of vec0's search against the source's exact search (ties at the k-th distance count as hits).
  const depth = Math.min(options.k, sourceCount);
  let sum = 0;
  for (let i = 0; i < queries.length; i += 25) {
    const batch = queries.slice(i, i + 25);
    const exact = await source.exactSearch(c.chromaName, c.space, batch, depth);
    const found = batch.map((q) =>
      sqliteVecSearch(db, table, queryVector(q, transform), depth).map((h) => h.id),
    );
    const ids = [...new Set([...exact.flat().map((h) => h.id), ...found.flat()])];
    const embeddings = await source.fetch(c.chromaName, ids);
    batch.forEach((q, j) => {
      sum += topKAgreement({
        source: found[j]!,
        exact: exact[j]!.map((h) => h.id),
        k: depth,
        distanceOf: (id) => {
          const e = embeddings.get(id)?.embedding;
          return e ? chromaDistance(c.space, q, e) : undefined;
        },
      });
    });
  }
  const recall = queries.length > 0 ? sum / queries.length : 1;
  return {
    collection: c.chromaName,
    table,
    space: c.space,
    metric,
    transform,
    dimension: c.dimension,
    sourceCount,
    rows: written,
    typedColumns: columns,
    jsonOnlyKeys: jsonOnly,
    recall,
    queries: queries.length,
    k: depth,
    seconds: (performance.now() - started) / 1000,
    ok: written === sourceCount && recall === 1,
  };
}

export function exportTable(report: ExportReport): string {
  return renderTable(
    [
      'collection',
      'vec0 table',
      'space → metric',
      'dim',
      'rows / source',
      'typed columns',
      'JSON only',
      `recall@k vs ${report.source} exact`,
      's',
      'status',
    ],
    report.collections.map((c) => [
      c.collection,
      c.table,
      `${c.space} → ${c.metric}${c.transform === 'none' ? '' : ` (${c.transform})`}`,
      c.dimension,
      `${c.rows} / ${c.sourceCount}`,
      c.typedColumns.map((t) => `${t.column} ${t.type}`).join(', ') || '-',
      c.jsonOnlyKeys.join(', ') || '-',
      `${c.recall.toFixed(4)} @${c.k} (${c.queries} q)`,
      c.seconds.toFixed(1),
      c.ok ? 'ok' : 'MISMATCH',
    ]),
  );
}
