// The search bench: a synthetic dataset with exact ground truth, loaded into each store by its fastest path, then per
// index a build (time, size, server memory), a warm-up, and for each swept setting and client count a bounded number of
// queries (recall@k, latency percentiles, QPS). Derived: the HNSW/exact speed-up and the recommended settings.
import os from 'node:os';
import { Progress } from '../../util/progress.js';
import type { Dataset } from '../../verify/dataset.js';
import { meanRecall, squaredL2 } from '../../verify/recall-math.js';
import { row, rowArray } from '../../verify/vectors.js';
import { withSearchBenchStack } from './bench-stack.js';
import { runBatchedLoop, runClosedLoop } from './closed-loop.js';
import { type DatasetManifest, ensureSyntheticDataset } from './dataset-cache.js';
import { summariseLatencies } from './latency.js';
import { milvusTarget } from './milvus-target.js';
import { DEFAULT_MIXTURE, type MixtureParams } from './mixture.js';
import { pgTarget } from './pg-target.js';
import { type Recommendation, recommendSettings } from './recommend.js';
import type { ScaleSpec } from './scales.js';
import { containerMemoryMb, peakMemoryDuring } from './server-memory.js';
import { hnswSpeedups, type Speedup } from './speedup.js';
import type { BuildRecord, IndexPlan, SearchPoint, Settled, StoreName, StoreTarget } from './types.js';

export interface SearchBenchOptions {
  scale: ScaleSpec;
  /** @default ['pgvector', 'milvus'] */
  stores?: StoreName[];
  /** Client counts. @default [1, 4, 16] */
  concurrency?: number[];
  /**
   * Queries per request, each measured on its own (Milvus takes several in one search, `nq`; pgvector only 1: it is
   * measured at 1 whatever this says). @default [1]
   */
  batches?: number[];
  /** @default 0.95 */
  targetRecall?: number;
  /** Ground truth worker threads. @default os.availableParallelism() */
  workers?: number;
  /** Override the scale's query bounds. */
  annQueries?: number;
  exactQueries?: number;
  /** The distribution. @default DEFAULT_MIXTURE */
  mixture?: MixtureParams;
  progress?: Progress;
}

export interface SearchBenchReport {
  startedAt: string;
  finishedAt: string;
  machine: { cpus: number; memoryGiB: number; loadAverageStart: number[]; loadAverageEnd: number[] };
  scale: ScaleSpec;
  dataset: DatasetManifest & { dir: string; reused: boolean };
  k: number;
  targetRecall: number;
  concurrency: number[];
  /** Queries per request measured (absent in runs before 2026-12-03: 1). */
  batches?: number[];
  queryBounds: { ann: number; exact: number; warmup: number };
  stack: {
    project: string;
    images: Record<string, string>;
    postgres: { sharedBuffersMb: number; memoryMb: number; cpuMillis: number; maintenanceWorkMem: string };
    milvus: { memoryMb: number; cpuMillis: number };
  };
  loads: {
    store: StoreName;
    method: string;
    rows: number;
    ms: number;
    vectorsPerSecond: number;
    /** Milvus: the compaction after the load, waited for before the first build (not in `ms`). */
    settled?: Settled;
  }[];
  builds: BuildRecord[];
  points: SearchPoint[];
  speedups: Speedup[];
  recommendations: Recommendation[];
  /** Sanity: the exact scan must score recall 1 against the kit's ground truth. */
  exactRecallOk: boolean;
}

const K = 10;
const LOAD_METHOD: Record<StoreName, string> = {
  pgvector: 'COPY FROM STDIN (FORMAT binary), index-free table, then VACUUM ANALYZE (not timed)',
  milvus: 'batched insert (5,000 rows/call) + flush',
};

/** maintenance_work_mem for the pgvector builds: the 1M HNSW graph needs about 1 GB. */
const MAINTENANCE_WORK_MEM = '2GB';

async function measurePlan(
  target: StoreTarget,
  plan: IndexPlan,
  dataset: Dataset,
  queries: number[][],
  concurrency: number[],
  batches: number[],
  bounds: { ann: number; exact: number; warmup: number },
  distanceOf: (q: number, id: number) => number,
  progress: Progress,
): Promise<{ build: BuildRecord; points: SearchPoint[] }> {
  const { store } = target;
  progress.log(`${store}: building ${plan.label} ${JSON.stringify(plan.buildParams)}`);
  const { value: figures, peakMb } = await peakMemoryDuring(
    target.container,
    progress.heartbeat(`${store} ${plan.label} build`, target.build(plan), 60),
  );
  const build: BuildRecord = {
    store,
    index: plan.index,
    label: plan.label,
    buildParams: plan.buildParams,
    ...figures,
    memoryMb: await containerMemoryMb(target.container),
    peakMemoryMb: peakMb,
  };
  progress.log(
    `${store}: ${plan.label} built in ${(figures.buildMs / 1000).toFixed(1)}s` +
      (figures.loadMs === null ? '' : `, loaded in ${(figures.loadMs / 1000).toFixed(1)}s`) +
      `, ${figures.sizeBytes === null ? '?' : (figures.sizeBytes / 2 ** 20).toFixed(0)} MiB (${figures.sizeSource}), server ${build.memoryMb?.toFixed(0)} MiB`,
  );
  const clients = Math.max(...concurrency);
  const sessions = await target.openSessions(plan, clients);
  const points: SearchPoint[] = [];
  try {
    const count = Math.min(plan.index === 'exact' ? bounds.exact : bounds.ann, queries.length);
    // Warm-up at the middle setting: caches, connections, prepared statements.
    const middle = plan.values[Math.floor(plan.values.length / 2)]!;
    const warm = await Promise.all(sessions.map((s) => s.prepare(middle, K)));
    await runClosedLoop(sessions, plan.index === 'exact' ? clients : bounds.warmup, (s, q) =>
      s.search(queries[q % queries.length]!, K, warm[sessions.indexOf(s)]!),
    );
    // A store without multi-query requests is measured one query per request only.
    const sizes = sessions[0]!.searchMany ? batches : batches.filter((b) => b === 1);
    for (const value of plan.values) {
      const effective = await Promise.all(sessions.map((s) => s.prepare(value, K)));
      for (const batch of sizes)
        for (const c of concurrency) {
          const used = sessions.slice(0, c);
          // Enough queries that every client sends at least two requests.
          const n = Math.min(queries.length, Math.max(count, 2 * c * batch));
          const run = await runBatchedLoop(used, n, batch, (s, first, size) => {
            const e = effective[used.indexOf(s)]!;
            return batch === 1
              ? s.search(queries[first]!, K, e).then((ids) => [ids])
              : s.searchMany!(queries.slice(first, first + size), K, e);
          });
          const recall = meanRecall(run.results, (q) => row(dataset.groundTruth, q), K, distanceOf);
          const point: SearchPoint = {
            store,
            index: plan.index,
            label: plan.label,
            param: plan.param,
            value,
            effectiveValue: effective[0]!,
            clients: c,
            batch,
            k: K,
            recall,
            ...summariseLatencies(run.latenciesMs, run.wallMs),
          };
          points.push(point);
          progress.log(
            `${store} ${plan.label}${plan.param ? ` ${plan.param}=${value}` : ''} x${c}${batch > 1 ? ` nq=${batch}` : ''}: recall@${K} ${recall.toFixed(4)}, p50 ${point.p50Ms.toFixed(2)} ms, p99 ${point.p99Ms.toFixed(2)} ms, ${point.qps.toFixed(1)} QPS (${n} queries)`,
          );
        }
    }
  } finally {
    await target.closeSessions();
  }
  return { build, points };
}

export async function runSearchBench(options: SearchBenchOptions): Promise<SearchBenchReport> {
  const progress = options.progress ?? new Progress();
  const stores = options.stores ?? ['pgvector', 'milvus'];
  const concurrency = [...new Set(options.concurrency ?? [1, 4, 16])].sort((a, b) => a - b);
  const batches = [...new Set(options.batches ?? [1])].sort((a, b) => a - b);
  const targetRecall = options.targetRecall ?? 0.95;
  const { scale } = options;
  const startedAt = new Date().toISOString();
  const loadAverageStart = os.loadavg();
  const cached = await ensureSyntheticDataset(scale, options.mixture ?? DEFAULT_MIXTURE, {
    workers: options.workers,
    progress,
  });
  const { dataset } = cached;
  const queries = Array.from({ length: dataset.queries.count }, (_, q) => rowArray(dataset.queries, q));
  const distances = new Map<number, number>();
  const distanceOf = (q: number, id: number) => {
    const key = q * dataset.base.count + id;
    let d = distances.get(key);
    if (d === undefined) {
      d = squaredL2(row(dataset.base, id), row(dataset.queries, q));
      distances.set(key, d);
    }
    return d;
  };
  const bounds = {
    ann: options.annQueries ?? scale.annQueries,
    exact: Math.max(options.exactQueries ?? scale.exactQueries, 2 * Math.max(...concurrency)),
    warmup: scale.warmupQueries,
  };
  const loads: SearchBenchReport['loads'] = [];
  const builds: BuildRecord[] = [];
  const points: SearchPoint[] = [];
  const stack = await withSearchBenchStack(progress, async (stack, deployment) => {
    for (const store of stores) {
      const measureStore = async (target: StoreTarget) => {
        progress.log(`${store}: loading ${dataset.base.count} vectors (${LOAD_METHOD[store]})`);
        const ms = await target.load((rows) => progress.log(`${store}: ${rows} rows loaded`));
        progress.log(`${store}: loaded in ${(ms / 1000).toFixed(1)}s`);
        const settled = target.settle
          ? await progress.heartbeat(`${store} compaction after the load`, target.settle(), 60)
          : undefined;
        if (settled)
          progress.log(
            `${store}: ${settled.segmentsBefore} segment(s) compacted to ${settled.segments} in ${(settled.ms / 1000).toFixed(1)}s (${settled.rounds} round(s))`,
          );
        loads.push({
          store,
          method: LOAD_METHOD[store],
          rows: dataset.base.count,
          ms,
          vectorsPerSecond: (dataset.base.count / ms) * 1000,
          ...(settled ? { settled } : {}),
        });
        try {
          for (const plan of target.plans()) {
            const measured = await measurePlan(
              target,
              plan,
              dataset,
              queries,
              concurrency,
              batches,
              bounds,
              distanceOf,
              progress,
            );
            builds.push(measured.build);
            points.push(...measured.points);
          }
        } finally {
          await target.drop();
        }
      };
      if (store === 'pgvector')
        await stack.with(stack.postgres({ role: 'admin' }), (admin) =>
          measureStore(
            pgTarget(stack, admin, dataset.base, scale, {
              maintenanceWorkMem: MAINTENANCE_WORK_MEM,
              maintenanceWorkers: 0,
            }),
          ),
        );
      else
        await stack.with(stack.milvus(), (admin) =>
          measureStore(milvusTarget(stack, admin, dataset.base, scale)),
        );
    }
    const { config } = stack;
    return {
      project: config.project,
      images: deployment.images as unknown as Record<string, string>,
      postgres: {
        sharedBuffersMb: config.postgres.sharedBuffersMb,
        memoryMb: config.postgres.resources.memoryMb,
        cpuMillis: config.postgres.resources.cpuMillis,
        maintenanceWorkMem: MAINTENANCE_WORK_MEM,
      },
      milvus: { memoryMb: config.milvus.resources.memoryMb, cpuMillis: config.milvus.resources.cpuMillis },
    };
  });
  const exact = points.filter((p) => p.index === 'exact');
  return {
    startedAt,
    finishedAt: new Date().toISOString(),
    machine: {
      cpus: os.availableParallelism(),
      memoryGiB: Math.round(os.totalmem() / 2 ** 30),
      loadAverageStart,
      loadAverageEnd: os.loadavg(),
    },
    scale,
    dataset: { ...cached.manifest, dir: dataset.dir, reused: cached.reused },
    k: K,
    targetRecall,
    concurrency,
    batches,
    queryBounds: bounds,
    stack,
    loads,
    builds,
    points,
    speedups: hnswSpeedups(points, targetRecall),
    recommendations: recommendSettings(points, targetRecall),
    exactRecallOk: exact.length > 0 && exact.every((p) => p.recall >= 0.999),
  };
}
