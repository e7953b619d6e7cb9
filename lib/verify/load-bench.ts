import type { MilvusClient } from '@zilliz/milvus2-sdk-node';
import type pg from 'pg';
import type { RunningStack } from '../stack/running-stack.js';
import { Progress } from '../util/progress.js';
import { renderTable } from '../util/table.js';
import { insertBatches, withScratchCollection } from './milvus-store.js';
import { copyVectors, insertMultiRow, insertRowByRow, scratchName, withScratchTable } from './pg-store.js';
import type { FloatVectors } from './vectors.js';

export interface LoadMeasurement {
  store: 'pgvector' | 'milvus';
  method: string;
  /** Rows actually written; fewer than the dataset when a slow method runs on a sample. */
  rows: number;
  ms: number;
  vectorsPerSecond: number;
  /** True when the rate comes from a sample and is extrapolated to the whole set. */
  sampled: boolean;
}

export interface LoadBenchReport {
  vectors: number;
  dimension: number;
  measurements: LoadMeasurement[];
  ratios: { name: string; value: number; goal: number | null; met: boolean | null }[];
}

export interface LoadBenchOptions {
  /** Rows for Milvus per-row inserts (one gRPC call each). @default 1000 */
  milvusPerRowSample?: number;
  multiRowBatch?: number;
  milvusBatch?: number;
  progress?: Progress;
}

async function timed(
  store: LoadMeasurement['store'],
  method: string,
  rows: number,
  total: number,
  work: () => Promise<void>,
): Promise<LoadMeasurement> {
  const started = performance.now();
  await work();
  const ms = performance.now() - started;
  return { store, method, rows, ms, vectorsPerSecond: (rows / ms) * 1000, sampled: rows < total };
}

/** Each pgvector method loads the whole set into an empty, index-free scratch table. */
async function benchPostgres(client: pg.Client, vectors: FloatVectors, options: LoadBenchOptions) {
  const results: LoadMeasurement[] = [];
  const table = scratchName('load');
  await withScratchTable(client, table, vectors.dimension, async () => {
    const methods: [string, () => Promise<void>][] = [
      ['row-by-row INSERT (autocommit)', () => insertRowByRow(client, table, vectors)],
      [
        `multi-row INSERT (${options.multiRowBatch ?? 500} rows/statement)`,
        () => insertMultiRow(client, table, vectors, options.multiRowBatch),
      ],
      ['COPY FROM STDIN', () => copyVectors(client, table, vectors)],
    ];
    for (const [method, work] of methods) {
      await client.query(`TRUNCATE ${table}`);
      options.progress?.log(`pgvector: ${method}`);
      results.push(await timed('pgvector', method, vectors.count, vectors.count, work));
      const { rows } = await client.query<{ n: string }>(`SELECT count(*) AS n FROM ${table}`);
      if (Number(rows[0]!.n) !== vectors.count)
        throw new Error(`${method} left ${rows[0]!.n} of ${vectors.count} rows`);
    }
  });
  return results;
}

async function benchMilvus(client: MilvusClient, vectors: FloatVectors, options: LoadBenchOptions) {
  const sample = Math.min(options.milvusPerRowSample ?? 1000, vectors.count);
  const batch = options.milvusBatch ?? 1000;
  const results: LoadMeasurement[] = [];
  for (const [method, rows, size] of [
    [`per-row insert (first ${sample} rows, rate extrapolated)`, sample, 1],
    [`batched insert (${batch} rows/call)`, vectors.count, batch],
  ] as const) {
    const collection = scratchName('load');
    await withScratchCollection(client, collection, vectors.dimension, async () => {
      options.progress?.log(`milvus: ${method}`);
      results.push(
        await timed('milvus', method, rows, vectors.count, () =>
          insertBatches(client, collection, vectors, size, 0, rows),
        ),
      );
    });
  }
  return results;
}

/** Ingest rates of each loading method in one run, with the ratios the project aims for. */
export async function runLoadBench(
  stack: RunningStack,
  vectors: FloatVectors,
  options: LoadBenchOptions = {},
): Promise<LoadBenchReport> {
  const progress = options.progress ?? new Progress();
  const measurements: LoadMeasurement[] = [];
  if (stack.config.postgres.enabled) {
    measurements.push(
      ...(await stack.with(stack.postgres({ role: 'admin' }), (client) =>
        benchPostgres(client, vectors, { ...options, progress }),
      )),
    );
  }
  if (stack.config.milvus.enabled) {
    measurements.push(
      ...(await stack.with(stack.milvus(), (client) =>
        benchMilvus(client, vectors, { ...options, progress }),
      )),
    );
  }
  const rate = (store: string, prefix: string) =>
    measurements.find((m) => m.store === store && m.method.startsWith(prefix))?.vectorsPerSecond;
  const ratios: LoadBenchReport['ratios'] = [];
  const ratio = (name: string, fast: number | undefined, slow: number | undefined, goal: number | null) => {
    if (fast && slow)
      ratios.push({ name, value: fast / slow, goal, met: goal === null ? null : fast / slow >= goal });
  };
  ratio('pgvector COPY / row-by-row', rate('pgvector', 'COPY'), rate('pgvector', 'row-by-row'), 20);
  ratio(
    'pgvector multi-row / row-by-row',
    rate('pgvector', 'multi-row'),
    rate('pgvector', 'row-by-row'),
    null,
  );
  ratio('milvus batched / per-row', rate('milvus', 'batched'), rate('milvus', 'per-row'), 10);
  return { vectors: vectors.count, dimension: vectors.dimension, measurements, ratios };
}

export function loadBenchTable(report: LoadBenchReport): string {
  const rows = report.measurements.map((m) => [
    m.store,
    m.method,
    m.rows,
    (m.ms / 1000).toFixed(2),
    Math.round(m.vectorsPerSecond),
  ]);
  const ratios = report.ratios.map(
    (r) =>
      `${r.name}: ${r.value.toFixed(1)}x${r.goal === null ? '' : ` (goal >= ${r.goal}x: ${r.met ? 'met' : 'NOT met'})`}`,
  );
  return `${renderTable(['store', 'method', 'rows', 's', 'vectors/s'], rows)}\n${ratios.join('\n')}`;
}
