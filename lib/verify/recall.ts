import type { MilvusClient } from '@zilliz/milvus2-sdk-node';
import type pg from 'pg';
import type { VectorstackConfig } from '../config/schema.js';
import type { RunningStack } from '../stack/running-stack.js';
import { Progress } from '../util/progress.js';
import { renderTable } from '../util/table.js';
import type { Dataset } from './dataset.js';
import { buildAndLoad, insertBatches, searchIds, withScratchCollection } from './milvus-store.js';
import { copyVectors, scratchName, withScratchTable } from './pg-store.js';
import { meanRecall, percentile, squaredL2 } from './recall-math.js';
import { type PlotSeries, renderPlot } from './svg-plot.js';
import { row, rowArray } from './vectors.js';

export type StoreName = 'pgvector' | 'milvus';
export type IndexName = 'hnsw' | 'ivfflat' | 'exact';

/** Search-time values swept per index; the configured value is always added. */
export interface SweepValues {
  pgvectorHnswEfSearch: number[];
  pgvectorIvfflatProbes: number[];
  milvusHnswEf: number[];
  milvusIvfNprobe: number[];
}

export const DEFAULT_SWEEP: SweepValues = {
  pgvectorHnswEfSearch: [10, 20, 40, 80, 160, 320],
  pgvectorIvfflatProbes: [1, 2, 5, 10, 20, 50],
  milvusHnswEf: [10, 20, 40, 64, 128, 256],
  milvusIvfNprobe: [1, 2, 4, 8, 16, 32, 64],
};

/** One measured setting: every query at one k. */
export interface SweepPoint {
  store: StoreName;
  index: IndexName;
  /** Search parameter name (`hnsw.ef_search`, `nprobe`, ...) and value; null for the exact scan. */
  param: string | null;
  value: number | null;
  /** The value actually sent, when the store needs it raised to k (HNSW returns at most ef results). */
  effectiveValue: number | null;
  configured: boolean;
  k: number;
  recall: number;
  p50Ms: number;
  p95Ms: number;
  qps: number;
}

export interface GateResult {
  store: StoreName;
  index: IndexName;
  param: string;
  value: number;
  recallAt10: number;
  threshold: number;
  pass: boolean;
}

/** Per store: the fastest HNSW setting reaching the target recall@10, against the exact scan. */
export interface TargetResult {
  store: StoreName;
  targetRecall: number;
  hnsw: SweepPoint | null;
  exact: SweepPoint | null;
  /** HNSW queries/s over exact-scan queries/s, single client. */
  speedup: number | null;
}

export interface RecallReport {
  dataset: { dir: string; base: number; queries: number; dimension: number; groundTruth: string };
  ks: number[];
  builds: { store: StoreName; index: IndexName; params: Record<string, number>; ms: number }[];
  points: SweepPoint[];
  gates: GateResult[];
  targets: TargetResult[];
  ok: boolean;
}

export interface RecallOptions {
  /** Index and search settings to measure. @default the stack's configuration */
  config?: VectorstackConfig;
  stores?: StoreName[];
  ks?: number[];
  sweep?: Partial<SweepValues>;
  threshold?: number;
  targetRecall?: number;
  progress?: Progress;
}

/** One index of one store: how to build it and how to search it at a swept value. */
interface IndexPlan {
  index: IndexName;
  param: string | null;
  values: (number | null)[];
  configured: number | null;
  buildParams: Record<string, number>;
  build(): Promise<void>;
  /** Applies a swept value before its queries (pgvector session settings). */
  prepare(value: number | null, k: number): Promise<number | null>;
  search(query: number[], k: number, effective: number | null): Promise<number[]>;
}

const withConfigured = (values: number[], configured: number) =>
  [...new Set([...values, configured])].sort((a, b) => a - b);

async function measure(
  plan: IndexPlan,
  store: StoreName,
  dataset: Dataset,
  ks: number[],
  distanceOf: (q: number, id: number) => number,
): Promise<SweepPoint[]> {
  const points: SweepPoint[] = [];
  const queries = Array.from({ length: dataset.queries.count }, (_, q) => rowArray(dataset.queries, q));
  for (const value of plan.values) {
    for (const k of ks) {
      const effective = await plan.prepare(value, k);
      const results: number[][] = [];
      const latencies: number[] = [];
      const started = performance.now();
      for (const query of queries) {
        const t0 = performance.now();
        results.push(await plan.search(query, k, effective));
        latencies.push(performance.now() - t0);
      }
      const seconds = (performance.now() - started) / 1000;
      points.push({
        store,
        index: plan.index,
        param: plan.param,
        value,
        effectiveValue: effective,
        configured: plan.param !== null && value === plan.configured,
        k,
        recall: meanRecall(results, (q) => row(dataset.groundTruth, q), k, distanceOf),
        p50Ms: percentile(latencies, 50),
        p95Ms: percentile(latencies, 95),
        qps: queries.length / seconds,
      });
    }
  }
  return points;
}

function pgvectorPlans(
  client: pg.Client,
  table: string,
  config: VectorstackConfig,
  sweep: SweepValues,
): IndexPlan[] {
  const { hnsw, ivfflat } = config.postgres;
  const knn = `SELECT id FROM ${table} ORDER BY embedding <-> $1 LIMIT $2`;
  const search = async (query: number[], k: number) =>
    (
      await client.query<{ id: number }>({
        name: `knn_${table}`,
        text: knn,
        values: [`[${query.join(',')}]`, k],
      })
    ).rows.map((r) => r.id);
  const rebuild = async (definition: string | null) => {
    await client.query(`DROP INDEX IF EXISTS ${table}_ann`);
    if (definition) await client.query(`CREATE INDEX ${table}_ann ON ${table} ${definition}`);
    await client.query(`ANALYZE ${table}`);
  };
  return [
    {
      index: 'hnsw',
      param: 'hnsw.ef_search',
      values: withConfigured(sweep.pgvectorHnswEfSearch, hnsw.efSearch),
      configured: hnsw.efSearch,
      buildParams: { m: hnsw.m, ef_construction: hnsw.efConstruction },
      build: () =>
        rebuild(
          `USING hnsw (embedding vector_l2_ops) WITH (m = ${hnsw.m}, ef_construction = ${hnsw.efConstruction})`,
        ),
      // pgvector's HNSW scan returns at most ef_search rows: k=100 needs ef_search >= 100.
      prepare: async (value, k) => {
        const effective = Math.max(value!, k);
        await client.query(`SET hnsw.ef_search = ${effective}`);
        return effective;
      },
      search,
    },
    {
      index: 'ivfflat',
      param: 'ivfflat.probes',
      values: withConfigured(sweep.pgvectorIvfflatProbes, ivfflat.probes),
      configured: ivfflat.probes,
      buildParams: { lists: ivfflat.lists },
      build: () => rebuild(`USING ivfflat (embedding vector_l2_ops) WITH (lists = ${ivfflat.lists})`),
      prepare: async (value) => {
        await client.query(`SET ivfflat.probes = ${value}`);
        return value;
      },
      search,
    },
    {
      index: 'exact',
      param: null,
      values: [null],
      configured: null,
      buildParams: {},
      build: () => rebuild(null),
      prepare: async () => null,
      search,
    },
  ];
}

function milvusPlans(
  client: MilvusClient,
  collection: string,
  config: VectorstackConfig,
  sweep: SweepValues,
): IndexPlan[] {
  const { hnsw, ivfFlat } = config.milvus;
  return [
    {
      index: 'hnsw',
      param: 'ef',
      values: withConfigured(sweep.milvusHnswEf, hnsw.ef),
      configured: hnsw.ef,
      buildParams: { M: hnsw.m, efConstruction: hnsw.efConstruction },
      build: () =>
        buildAndLoad(client, collection, 'HNSW', { M: hnsw.m, efConstruction: hnsw.efConstruction }),
      // Milvus rejects ef < k.
      prepare: async (value, k) => Math.max(value!, k),
      search: (query, k, ef) => searchIds(client, collection, query, k, { ef: ef! }),
    },
    {
      index: 'ivfflat',
      param: 'nprobe',
      values: withConfigured(sweep.milvusIvfNprobe, ivfFlat.nprobe),
      configured: ivfFlat.nprobe,
      buildParams: { nlist: ivfFlat.nlist },
      build: () => buildAndLoad(client, collection, 'IVF_FLAT', { nlist: ivfFlat.nlist }),
      prepare: async (value) => value,
      search: (query, k, nprobe) => searchIds(client, collection, query, k, { nprobe: nprobe! }),
    },
    {
      index: 'exact',
      param: null,
      values: [null],
      configured: null,
      buildParams: {},
      build: () => buildAndLoad(client, collection, 'FLAT', {}),
      prepare: async () => null,
      search: (query, k) => searchIds(client, collection, query, k, {}),
    },
  ];
}

async function runPlans(
  plans: IndexPlan[],
  store: StoreName,
  dataset: Dataset,
  ks: number[],
  report: RecallReport,
  progress: Progress,
  distanceOf: (q: number, id: number) => number,
): Promise<void> {
  for (const plan of plans) {
    const started = performance.now();
    await progress.heartbeat(`${store} ${plan.index} build`, plan.build());
    const ms = performance.now() - started;
    report.builds.push({ store, index: plan.index, params: plan.buildParams, ms });
    progress.log(
      `${store}: ${plan.index} index ready in ${(ms / 1000).toFixed(1)}s; sweeping ${plan.param ?? 'exact scan'}`,
    );
    report.points.push(...(await measure(plan, store, dataset, ks, distanceOf)));
  }
}

/**
 * Loads the dataset into a scratch pgvector table and a scratch Milvus collection, builds each index, sweeps the
 * search parameter at every k, and scores recall against the ground truth. Scratch objects are dropped at the end,
 * also when a step fails.
 */
export async function runRecall(
  stack: RunningStack,
  dataset: Dataset,
  options: RecallOptions = {},
): Promise<RecallReport> {
  const stores = options.stores ?? ['pgvector', 'milvus'];
  const ks = options.ks ?? [10, 100];
  const sweep = { ...DEFAULT_SWEEP, ...options.sweep };
  const config = options.config ?? stack.config;
  const threshold = options.threshold ?? config.recall.threshold;
  const progress = options.progress ?? new Progress();
  const { base, queries } = dataset;
  const distances = new Map<number, number>();
  const distanceOf = (q: number, id: number) => {
    const key = q * base.count + id;
    let d = distances.get(key);
    if (d === undefined) {
      d = squaredL2(row(base, id), row(queries, q));
      distances.set(key, d);
    }
    return d;
  };
  const report: RecallReport = {
    dataset: {
      dir: dataset.dir,
      base: base.count,
      queries: queries.count,
      dimension: base.dimension,
      groundTruth: dataset.groundTruthSource,
    },
    ks,
    builds: [],
    points: [],
    gates: [],
    targets: [],
    ok: false,
  };
  if (stores.includes('pgvector')) {
    // Scratch tables are created and dropped by the administrator: the application login cannot create tables.
    await stack.with(stack.postgres({ role: 'admin' }), async (client) => {
      const table = scratchName('recall');
      await withScratchTable(client, table, base.dimension, async () => {
        progress.log(`pgvector: loading ${base.count} vectors into ${table} (COPY)`);
        await copyVectors(client, table, base);
        await runPlans(
          pgvectorPlans(client, table, config, sweep),
          'pgvector',
          dataset,
          ks,
          report,
          progress,
          distanceOf,
        );
      });
    });
  }
  if (stores.includes('milvus')) {
    await stack.with(stack.milvus(), async (client) => {
      const collection = scratchName('recall');
      await withScratchCollection(client, collection, base.dimension, async () => {
        progress.log(`milvus: loading ${base.count} vectors into ${collection}`);
        await insertBatches(client, collection, base, 2000);
        await client.flushSync({ collection_names: [collection] });
        await runPlans(
          milvusPlans(client, collection, config, sweep),
          'milvus',
          dataset,
          ks,
          report,
          progress,
          distanceOf,
        );
      });
    });
  }
  report.gates = gates(report.points, threshold);
  report.targets = stores.map((store) => targetResult(report.points, store, options.targetRecall ?? 0.99));
  report.ok = report.gates.length > 0 && report.gates.every((g) => g.pass);
  return report;
}

function gates(points: SweepPoint[], threshold: number): GateResult[] {
  return points
    .filter((p) => p.configured && p.k === 10 && p.param !== null)
    .map((p) => ({
      store: p.store,
      index: p.index,
      param: p.param!,
      value: p.value!,
      recallAt10: p.recall,
      threshold,
      pass: p.recall >= threshold,
    }));
}

function targetResult(points: SweepPoint[], store: StoreName, targetRecall: number): TargetResult {
  const at10 = points.filter((p) => p.store === store && p.k === 10);
  const exact = at10.find((p) => p.index === 'exact') ?? null;
  const reaching = at10.filter((p) => p.index === 'hnsw' && p.recall >= targetRecall);
  const hnsw = reaching.sort((a, b) => b.qps - a.qps)[0] ?? null;
  return { store, targetRecall, hnsw, exact, speedup: hnsw && exact ? hnsw.qps / exact.qps : null };
}

const indexLabel = (p: SweepPoint) =>
  p.param === null
    ? 'exact scan'
    : `${p.index} ${p.param}=${p.value}${p.effectiveValue !== p.value ? ` (sent ${p.effectiveValue})` : ''}`;

export function recallTable(report: RecallReport): string {
  return renderTable(
    ['store', 'setting', 'k', 'recall', 'p50 ms', 'p95 ms', 'QPS'],
    report.points.map((p) => [
      p.store,
      `${indexLabel(p)}${p.configured ? ' *' : ''}`,
      p.k,
      p.recall.toFixed(4),
      p.p50Ms.toFixed(2),
      p.p95Ms.toFixed(2),
      p.qps.toFixed(0),
    ]),
  );
}

export function recallSummary(report: RecallReport): string {
  const lines = ['* = configured search parameter (gated)'];
  for (const g of report.gates)
    lines.push(
      `gate ${g.pass ? 'ok  ' : 'FAIL'} ${g.store} ${g.index} ${g.param}=${g.value}: recall@10 ${g.recallAt10.toFixed(4)} ${g.pass ? '>=' : '<'} ${g.threshold}`,
    );
  for (const t of report.targets) {
    if (!t.hnsw)
      lines.push(
        `target ${t.store}: no HNSW setting reached recall@10 >= ${t.targetRecall} (raise the ef sweep)`,
      );
    else
      lines.push(
        `target ${t.store}: HNSW ${t.hnsw.param}=${t.hnsw.value} reaches recall@10 ${t.hnsw.recall.toFixed(4)} at ${t.hnsw.qps.toFixed(0)} QPS (p50 ${t.hnsw.p50Ms.toFixed(2)} ms)` +
          (t.exact
            ? `; exact scan ${t.exact.qps.toFixed(0)} QPS (p50 ${t.exact.p50Ms.toFixed(2)} ms): ${t.speedup!.toFixed(1)}x faster`
            : ''),
      );
  }
  return lines.join('\n');
}

/** Recall@10 against queries/s, one line per store and index, exact scans as squares. */
export function recallPlot(report: RecallReport, k = 10): string {
  const series: PlotSeries[] = [];
  for (const store of new Set(report.points.map((p) => p.store))) {
    for (const index of ['hnsw', 'ivfflat', 'exact'] as IndexName[]) {
      const points = report.points.filter((p) => p.store === store && p.index === index && p.k === k);
      if (points.length === 0) continue;
      series.push({
        name: `${store} ${index === 'exact' ? 'exact scan' : index}`,
        markersOnly: index === 'exact',
        points: points.map((p) => ({
          x: p.recall,
          y: p.qps,
          label: p.value === null ? undefined : String(p.value),
        })),
      });
    }
  }
  return renderPlot({
    title: `recall@${k} vs throughput (${report.dataset.base} x ${report.dataset.dimension}d, ${report.dataset.queries} queries, L2)`,
    xLabel: `recall@${k}`,
    yLabel: 'queries per second (one client)',
    yLog: true,
    series,
  });
}
