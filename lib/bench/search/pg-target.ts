// pgvector as a search bench target: binary COPY into an index-free table, then HNSW, IVFFlat and the exact scan one
// after another, each searched through sessions of their own.
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { dockerContainerName } from '../../deployment/names.js';
import type { RunningStack } from '../../stack/running-stack.js';
import {
  COPY_HEADER_BYTES,
  COPY_TRAILER_BYTES,
  vectorFieldBytes,
  writeCopyHeader,
  writeCopyTrailer,
  writeVectorField,
} from '../../util/pg-copy-binary.js';
import type { FloatVectors } from '../../verify/vectors.js';
import type { ScaleSpec } from './scales.js';
import type { BuildFigures, IndexPlan, SearchSession, StoreTarget } from './types.js';

export const PG_SWEEP = {
  efSearch: [10, 20, 40, 80, 160, 320, 640],
  probes: [1, 2, 4, 8, 16, 32, 64],
};

export interface PgTargetOptions {
  /** Memory for one index build (the HNSW graph should fit: pgvector warns and slows down when it does not). */
  maintenanceWorkMem: string;
  /**
   * Parallel workers per index build; 0 builds in the backend alone (the figures in docs/benchmarks.md). A parallel
   * HNSW build keeps its graph in /dev/shm, which the stack sizes from postgres.maintenanceWorkMemMb.
   */
  maintenanceWorkers: number;
}

const COPY_ROWS = 2000;

/** COPY binary rows (id int4, embedding vector) for rows [from, to) (lib/util/pg-copy-binary.ts). */
export function copyBinaryRows(vectors: FloatVectors, from: number, to: number, header: boolean): Buffer {
  const d = vectors.dimension;
  const rowBytes = 2 + (4 + 4) + vectorFieldBytes(d);
  const buffer = Buffer.alloc((header ? COPY_HEADER_BYTES : 0) + (to - from) * rowBytes);
  let at = header ? writeCopyHeader(buffer) : 0;
  for (let i = from; i < to; i++) {
    at = buffer.writeInt16BE(2, at);
    at = buffer.writeInt32BE(4, at);
    at = buffer.writeInt32BE(i, at);
    at = writeVectorField(buffer, at, vectors.values.subarray(i * d, (i + 1) * d));
  }
  return buffer;
}

export function pgTarget(
  stack: RunningStack,
  admin: pg.Client,
  base: FloatVectors,
  scale: ScaleSpec,
  options: PgTargetOptions,
): StoreTarget {
  const table = 'vs_bench_search';
  const index = `${table}_ann`;
  const { hnsw } = stack.config.postgres;
  let sessions: pg.Client[] = [];
  const plans: IndexPlan[] = [
    {
      index: 'hnsw',
      label: 'HNSW',
      param: 'hnsw.ef_search',
      values: PG_SWEEP.efSearch,
      buildParams: { m: hnsw.m, ef_construction: hnsw.efConstruction },
    },
    {
      index: 'ivf',
      label: 'IVFFlat',
      param: 'ivfflat.probes',
      values: PG_SWEEP.probes.filter((p) => p <= scale.lists),
      buildParams: { lists: scale.lists },
    },
    { index: 'exact', label: 'exact scan (no index)', param: null, values: [null], buildParams: {} },
  ];
  const definition = (plan: IndexPlan) =>
    plan.index === 'hnsw'
      ? `USING hnsw (embedding vector_l2_ops) WITH (m = ${plan.buildParams.m}, ef_construction = ${plan.buildParams.ef_construction})`
      : `USING ivfflat (embedding vector_l2_ops) WITH (lists = ${plan.buildParams.lists})`;
  return {
    store: 'pgvector',
    container: dockerContainerName(stack.config, 'postgres'),
    plans: () => plans,
    async load(onProgress) {
      await admin.query('CREATE EXTENSION IF NOT EXISTS vector');
      await admin.query(`DROP TABLE IF EXISTS ${table}`);
      await admin.query(
        `CREATE TABLE ${table} (id integer PRIMARY KEY, embedding vector(${base.dimension}) NOT NULL)`,
      );
      const started = performance.now();
      const stream = admin.query(copyFrom(`COPY ${table} (id, embedding) FROM STDIN (FORMAT binary)`));
      async function* chunks() {
        for (let from = 0; from < base.count; from += COPY_ROWS) {
          const to = Math.min(from + COPY_ROWS, base.count);
          yield copyBinaryRows(base, from, to, from === 0);
          if (to % 100_000 === 0) onProgress?.(to);
        }
        const trailer = Buffer.alloc(COPY_TRAILER_BYTES);
        writeCopyTrailer(trailer, 0);
        yield trailer;
      }
      await pipeline(chunks(), stream);
      const ms = performance.now() - started;
      const { rows } = await admin.query<{ n: string }>(`SELECT count(*) AS n FROM ${table}`);
      if (Number(rows[0]!.n) !== base.count) throw new Error(`COPY left ${rows[0]!.n} of ${base.count} rows`);
      // Visibility map and statistics, so neither the first index build nor the first scan pays for them.
      await admin.query(`VACUUM ANALYZE ${table}`);
      return ms;
    },
    async build(plan): Promise<BuildFigures> {
      await admin.query(`DROP INDEX IF EXISTS ${index}`);
      if (plan.index === 'exact') {
        const { rows } = await admin.query<{ bytes: string }>('SELECT pg_relation_size($1) AS bytes', [
          table,
        ]);
        return {
          buildMs: 0,
          loadMs: null,
          sizeBytes: 0,
          sizeSource: `no index (table ${(Number(rows[0]!.bytes) / 2 ** 20).toFixed(0)} MiB)`,
          segments: null,
        };
      }
      await admin.query(`SET maintenance_work_mem = '${options.maintenanceWorkMem}'`);
      await admin.query(`SET max_parallel_maintenance_workers = ${options.maintenanceWorkers}`);
      const started = performance.now();
      await admin.query(`CREATE INDEX ${index} ON ${table} ${definition(plan)}`);
      const buildMs = performance.now() - started;
      await admin.query(`ANALYZE ${table}`);
      const { rows } = await admin.query<{ bytes: string }>('SELECT pg_relation_size($1) AS bytes', [index]);
      return {
        buildMs,
        loadMs: null,
        sizeBytes: Number(rows[0]!.bytes),
        sizeSource: 'pg_relation_size',
        segments: null,
      };
    },
    async openSessions(plan, n) {
      await this.closeSessions();
      sessions = await Promise.all(Array.from({ length: n }, () => stack.postgres({ role: 'admin' })));
      return sessions.map(
        (client): SearchSession => ({
          async prepare(value, k) {
            if (value === null || plan.param === null) return null;
            // pgvector's HNSW scan returns at most ef_search rows: k rows need ef_search >= k.
            const effective = plan.index === 'hnsw' ? Math.max(value, k) : value;
            await client.query(`SET ${plan.param} = ${effective}`);
            return effective;
          },
          async search(query, k) {
            const { rows } = await client.query<{ id: number }>({
              name: 'bench_search_knn',
              text: `SELECT id FROM ${table} ORDER BY embedding <-> $1::vector LIMIT $2`,
              values: [`[${query.join(',')}]`, k],
            });
            return rows.map((r) => r.id);
          },
        }),
      );
    },
    async closeSessions() {
      await Promise.allSettled(sessions.map((c) => c.end()));
      sessions = [];
    },
    async drop() {
      await admin.query(`DROP TABLE IF EXISTS ${table}`);
    },
  };
}
