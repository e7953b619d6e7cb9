import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import type { RunningStack } from '../stack/running-stack.js';
import {
  COPY_HEADER_BYTES,
  COPY_TRAILER_BYTES,
  vectorFieldBytes,
  writeCopyHeader,
  writeCopyTrailer,
  writeVectorField,
} from '../util/pg-copy-binary.js';
import {
  type ChromaSpace,
  isChromaSpace,
  METRICS,
  PG_CATALOG,
  PG_SCHEMA,
  pgTable,
  type TransferRecord,
  targetLabel,
} from './model.js';
import type {
  CollectionPlan,
  ExistingCollection,
  ImportedCollection,
  Neighbour,
  TargetSink,
} from './sink.js';
import { vectorLiteral } from './sink.js';

/**
 * pgvector home of imported collections: schema `imported`, one table per Chroma collection
 * (`id text PRIMARY KEY, embedding vector(d), document text, metadata jsonb`, HNSW index with the mapped operator
 * class) and the catalog `imported.chroma_collections` (source, space, dimension, checkpoint, status). Each page is
 * one transaction: rows and checkpoint commit together, so a killed import resumes at the last committed page.
 */
export class PgvectorSink implements TargetSink {
  readonly target = 'pgvector' as const;

  /** Collections whose current pass met ids the table holds already: their pages are upserted. */
  private readonly upserting = new Set<string>();

  constructor(private readonly client: pg.Client) {}

  label(chromaName: string): string {
    return targetLabel('pgvector', chromaName);
  }

  private table(chromaName: string): string {
    return `${PG_SCHEMA}."${pgTable(chromaName)}"`;
  }

  private async catalogExists(): Promise<boolean> {
    const { rows } = await this.client.query<{ t: string | null }>('SELECT to_regclass($1) AS t', [
      `${PG_SCHEMA}.${PG_CATALOG}`,
    ]);
    return rows[0]!.t !== null;
  }

  async existing(chromaName: string): Promise<ExistingCollection | undefined> {
    const { rows } = await this.client.query<{ t: string | null }>('SELECT to_regclass($1) AS t', [
      this.table(chromaName),
    ]);
    if (rows[0]!.t === null) return undefined;
    const dim = await this.client.query<{ d: number }>(
      `SELECT atttypmod AS d FROM pg_attribute WHERE attrelid = $1::regclass AND attname = 'embedding'`,
      [this.table(chromaName)],
    );
    const catalog = (await this.catalogExists())
      ? (
          await this.client.query<{ space: string; rows_done: string; status: string }>(
            `SELECT space, rows_done, status FROM ${PG_SCHEMA}.${PG_CATALOG} WHERE chroma_name = $1`,
            [chromaName],
          )
        ).rows[0]
      : undefined;
    const count = await this.count(chromaName);
    return {
      dimension: dim.rows[0]?.d ?? -1,
      space: catalog && isChromaSpace(catalog.space) ? catalog.space : undefined,
      rows: count,
      checkpoint: catalog ? Number(catalog.rows_done) : undefined,
      complete: catalog?.status === 'complete',
    };
  }

  async prepare(plan: CollectionPlan): Promise<void> {
    this.upserting.delete(plan.chromaName);
    const c = this.client;
    await c.query('CREATE EXTENSION IF NOT EXISTS vector');
    await c.query(`CREATE SCHEMA IF NOT EXISTS ${PG_SCHEMA}`);
    await c.query(`CREATE TABLE IF NOT EXISTS ${PG_SCHEMA}.${PG_CATALOG} (
      chroma_name text PRIMARY KEY,
      table_name text NOT NULL UNIQUE,
      chroma_id text NOT NULL,
      source text NOT NULL,
      space text NOT NULL CHECK (space IN ('l2', 'ip', 'cosine')),
      dimension integer NOT NULL,
      source_count bigint NOT NULL,
      rows_done bigint NOT NULL DEFAULT 0,
      status text NOT NULL CHECK (status IN ('importing', 'complete')),
      started_at timestamptz NOT NULL DEFAULT now(),
      completed_at timestamptz
    )`);
    await c.query(
      `CREATE TABLE IF NOT EXISTS ${this.table(plan.chromaName)} (
        id text PRIMARY KEY,
        embedding vector(${plan.dimension}) NOT NULL,
        document text,
        metadata jsonb
      )`,
    );
    // A completed collection starts a new full pass (idempotent upserts); an interrupted one keeps its checkpoint.
    await c.query(
      `INSERT INTO ${PG_SCHEMA}.${PG_CATALOG} (chroma_name, table_name, chroma_id, source, space, dimension, source_count, status)
       VALUES ($1, $2, $3, $4, $5, $6, $7, 'importing')
       ON CONFLICT (chroma_name) DO UPDATE SET
         chroma_id = EXCLUDED.chroma_id, source = EXCLUDED.source, source_count = EXCLUDED.source_count,
         rows_done = CASE WHEN ${PG_CATALOG}.status = 'complete' THEN 0 ELSE ${PG_CATALOG}.rows_done END,
         status = 'importing', started_at = now(), completed_at = NULL`,
      [
        plan.chromaName,
        pgTable(plan.chromaName),
        plan.chromaId,
        plan.source,
        plan.space,
        plan.dimension,
        plan.count,
      ],
    );
  }

  async resumeOffset(plan: CollectionPlan): Promise<number> {
    const { rows } = await this.client.query<{ n: string }>(
      `SELECT rows_done AS n FROM ${PG_SCHEMA}.${PG_CATALOG} WHERE chroma_name = $1`,
      [plan.chromaName],
    );
    return Number(rows[0]?.n ?? 0);
  }

  /**
   * One transaction per page: rows and checkpoint commit together. A plain COPY first; a page whose ids are there
   * already (a pass over a completed import, or a source whose order moved) fails on the primary key, is rolled back
   * and upserted through a staging table, and so is every later page of that pass.
   */
  async write(plan: CollectionPlan, offset: number, records: TransferRecord[]): Promise<void> {
    const table = this.table(plan.chromaName);
    const body = copyBinary(records);
    if (!this.upserting.has(plan.chromaName)) {
      try {
        await this.page(plan, offset + records.length, () =>
          this.copy(`COPY ${table} (id, embedding, document, metadata) FROM STDIN (FORMAT binary)`, body),
        );
        return;
      } catch (error) {
        if ((error as { code?: string }).code !== '23505') throw error;
        this.upserting.add(plan.chromaName);
      }
    }
    await this.page(plan, offset + records.length, async () => {
      await this.client.query(
        'CREATE TEMP TABLE IF NOT EXISTS vs_import_stage (id text, embedding vector, document text, metadata jsonb) ON COMMIT DELETE ROWS',
      );
      await this.copy(
        'COPY vs_import_stage (id, embedding, document, metadata) FROM STDIN (FORMAT binary)',
        body,
      );
      await this.client.query(
        `INSERT INTO ${table} (id, embedding, document, metadata) SELECT id, embedding, document, metadata FROM vs_import_stage
         ON CONFLICT (id) DO UPDATE SET embedding = EXCLUDED.embedding, document = EXCLUDED.document, metadata = EXCLUDED.metadata`,
      );
    });
  }

  /** `work` and the checkpoint `rowsDone` in one transaction. */
  private async page(plan: CollectionPlan, rowsDone: number, work: () => Promise<void>): Promise<void> {
    const c = this.client;
    await c.query('BEGIN');
    try {
      await work();
      await c.query(`UPDATE ${PG_SCHEMA}.${PG_CATALOG} SET rows_done = $2 WHERE chroma_name = $1`, [
        plan.chromaName,
        rowsDone,
      ]);
      await c.query('COMMIT');
    } catch (error) {
      await c.query('ROLLBACK').catch(() => {});
      throw error;
    }
  }

  private async copy(statement: string, body: Buffer): Promise<void> {
    await pipeline([body], this.client.query(copyFrom(statement)));
  }

  async finish(plan: CollectionPlan): Promise<string> {
    const metric = METRICS[plan.space];
    const index = `"${pgTable(plan.chromaName)}_embedding_hnsw"`;
    const started = performance.now();
    await this.client.query(
      `CREATE INDEX IF NOT EXISTS ${index} ON ${this.table(plan.chromaName)} USING hnsw (embedding ${metric.pgOpclass})`,
    );
    await this.client.query(
      `UPDATE ${PG_SCHEMA}.${PG_CATALOG} SET status = 'complete', completed_at = now() WHERE chroma_name = $1`,
      [plan.chromaName],
    );
    return `HNSW ${metric.pgOpclass} (${((performance.now() - started) / 1000).toFixed(1)}s)`;
  }

  async count(chromaName: string): Promise<number> {
    const { rows } = await this.client.query<{ n: string }>(
      `SELECT count(*) AS n FROM ${this.table(chromaName)}`,
    );
    return Number(rows[0]!.n);
  }

  async fetch(chromaName: string, ids: string[]): Promise<Map<string, TransferRecord>> {
    const { rows } = await this.client.query<{
      id: string;
      embedding: string;
      document: string | null;
      metadata: Record<string, unknown> | null;
    }>(
      `SELECT id, embedding::text AS embedding, document, metadata FROM ${this.table(chromaName)} WHERE id = ANY($1::text[])`,
      [ids],
    );
    return new Map(
      rows.map((r) => [
        r.id,
        { id: r.id, embedding: parseVector(r.embedding), document: r.document, metadata: r.metadata },
      ]),
    );
  }

  /** A sequential scan forced in a transaction of its own: the exact answer, whatever indexes exist. */
  async exactSearch(
    chromaName: string,
    space: ChromaSpace,
    vectors: Float32Array[],
    k: number,
  ): Promise<Neighbour[][]> {
    const c = this.client;
    const op = METRICS[space].pgOperator;
    const out: Neighbour[][] = [];
    await c.query('BEGIN');
    try {
      await c.query('SET LOCAL enable_indexscan = off');
      await c.query('SET LOCAL enable_bitmapscan = off');
      for (const v of vectors) {
        const { rows } = await c.query<{ id: string; d: number }>(
          `SELECT id, embedding ${op} $1::vector AS d FROM ${this.table(chromaName)} ORDER BY embedding ${op} $1::vector, id LIMIT ${Number(k)}`,
          [vectorLiteral(v)],
        );
        out.push(rows.map((r) => ({ id: r.id, distance: Number(r.d) })));
      }
    } finally {
      await c.query('ROLLBACK').catch(() => {});
    }
    return out;
  }

  async imported(): Promise<ImportedCollection[]> {
    if (!(await this.catalogExists())) return [];
    const { rows } = await this.client.query<{ chroma_name: string; space: ChromaSpace; dimension: number }>(
      `SELECT chroma_name, space, dimension FROM ${PG_SCHEMA}.${PG_CATALOG} WHERE status = 'complete' ORDER BY chroma_name`,
    );
    return rows.map((r) => ({ chromaName: r.chroma_name, space: r.space, dimension: r.dimension }));
  }

  /** Keyset pages in id order. */
  async *scan(chromaName: string, pageSize: number): AsyncGenerator<TransferRecord[]> {
    let last: string | null = null;
    for (let guard = 0; guard < 100_000_000; guard++) {
      const { rows }: { rows: PgRow[] } = await this.client.query<PgRow>(
        `SELECT id, embedding::text AS embedding, document, metadata FROM ${this.table(chromaName)}
         WHERE $1::text IS NULL OR id > $1::text ORDER BY id LIMIT ${Number(pageSize)}`,
        [last],
      );
      if (rows.length === 0) return;
      last = rows[rows.length - 1]!.id;
      yield rows.map((r) => ({
        id: r.id,
        embedding: parseVector(r.embedding),
        document: r.document,
        metadata: r.metadata,
      }));
      if (rows.length < pageSize) return;
    }
  }

  async close(): Promise<void> {}
}

interface PgRow {
  id: string;
  embedding: string;
  document: string | null;
  metadata: Record<string, unknown> | null;
}

/** pgvector's text output `[1,2.5,-0]` as float32. */
export function parseVector(text: string): Float32Array {
  const inner = text.trim().replace(/^\[/, '').replace(/\]$/, '');
  return inner === '' ? new Float32Array(0) : Float32Array.from(inner.split(','), Number);
}

/**
 * COPY binary format of (id text, embedding vector, document text, metadata jsonb), in one buffer: the float32
 * components travel as their own bytes (lib/util/pg-copy-binary.ts), so nothing is rounded or parsed on the way.
 */
export function copyBinary(records: TransferRecord[]): Buffer {
  const ids = records.map((r) => Buffer.byteLength(r.id, 'utf8'));
  const documents = records.map((r) => (r.document === null ? -1 : Buffer.byteLength(r.document, 'utf8')));
  // jsonb's binary form: a version byte (1) and the JSON text.
  const metadata = records.map((r) => (r.metadata === null ? null : JSON.stringify(r.metadata)));
  const metadataBytes = metadata.map((m) => (m === null ? -1 : 1 + Buffer.byteLength(m, 'utf8')));
  let size = COPY_HEADER_BYTES + COPY_TRAILER_BYTES;
  records.forEach((r, i) => {
    size += 2 + 4 + ids[i]! + vectorFieldBytes(r.embedding.length);
    size += 4 + Math.max(0, documents[i]!) + 4 + Math.max(0, metadataBytes[i]!);
  });
  const buffer = Buffer.allocUnsafe(size);
  let at = writeCopyHeader(buffer);
  records.forEach((r, i) => {
    at = buffer.writeInt16BE(4, at);
    at = buffer.writeInt32BE(ids[i]!, at);
    at += buffer.write(r.id, at, 'utf8');
    at = writeVectorField(buffer, at, r.embedding);
    at = buffer.writeInt32BE(documents[i]!, at);
    if (r.document !== null) at += buffer.write(r.document, at, 'utf8');
    at = buffer.writeInt32BE(metadataBytes[i]!, at);
    if (metadata[i] !== null) {
      at = buffer.writeUInt8(1, at);
      at += buffer.write(metadata[i]!, at, 'utf8');
    }
  });
  at = writeCopyTrailer(buffer, at);
  if (at !== size) throw new Error(`copyBinary: wrote ${at} of ${size} bytes`);
  return buffer;
}

/**
 * The PostgreSQL login imports and exports use: one that may create a schema, tables and the extension, i.e. the
 * administrator (schemas/postgres/roles.ts; the application login cannot create tables). One place to change when
 * imported schemas get an owner role of their own.
 */
export function openTransferClient(stack: RunningStack): Promise<pg.Client> {
  return stack.postgres({ role: 'admin' });
}
