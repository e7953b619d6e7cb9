// Milvus as a search bench target: batched inserts and a flush, then HNSW, IVF_FLAT and FLAT (the exact scan) one after
// another on the same collection, each built, waited for and loaded, and searched through clients of their own.
import { DataType, MilvusClient } from '@zilliz/milvus2-sdk-node';
import { dockerContainerName } from '../../deployment/names.js';
import { indexesBuilt } from '../../milvus/readiness.js';
import type { RunningStack } from '../../stack/running-stack.js';
import { waitFor } from '../../util/poll.js';
import { insertBatches, milvusOk, searchIds, searchManyIds } from '../../verify/milvus-store.js';
import type { FloatVectors } from '../../verify/vectors.js';
import { indexFileBytes, newBuildBytes } from './milvus-index-files.js';
import type { ScaleSpec } from './scales.js';
import type { BuildFigures, IndexPlan, SearchSession, StoreTarget } from './types.js';

export const MILVUS_SWEEP = {
  ef: [10, 20, 40, 80, 160, 320, 640],
  nprobe: [1, 2, 4, 8, 16, 32, 64],
};

/** Rows per insert call (5,000 x 128 float32 = 2.5 MB per request). */
const INSERT_BATCH = 5000;

export interface MilvusTargetOptions {
  /** Bound on one index build. @default 2 hours */
  buildTimeoutMs?: number;
}

/**
 * A client on a connection of its own. The SDK keeps a pool of gRPC stubs, and grpc-js shares one TCP connection
 * between channels to the same address unless told to use a local subchannel pool: without both, N bench clients would
 * be N streams on one connection rather than N connections.
 */
async function ownConnection(stack: RunningStack): Promise<MilvusClient> {
  const endpoint = stack.endpoint('milvus');
  const client = new MilvusClient({
    address: `${endpoint.host}:${endpoint.port}`,
    username: endpoint.user,
    password: stack.credentials.milvus_root_password,
    timeout: 120_000,
    logLevel: 'error',
    pool: { min: 1, max: 1 },
    channelOptions: { 'grpc.use_local_subchannel_pool': 1 },
  });
  await client.connectPromise;
  return client;
}

const searchParams = (plan: IndexPlan, effective: number | null): Record<string, number> =>
  plan.param === null || effective === null ? {} : { [plan.param]: effective };

/**
 * Milvus 2.3 merges flushed segments in the background, but only segments whose vector index is built, and a merged
 * segment then has its index built again. Left alone, that happens while the first index is measured (seen at 1M: the 5
 * loaded segments became 2, then 1, during the HNSW and IVF sweeps, Milvus at 160% CPU). So before any measured build:
 * a FLAT index (built at once), manual compactions until two in a row leave as many segments, and the FLAT index
 * dropped. Every index is then built on, and measured against, the same compacted segments.
 */
async function compactToSteadyState(
  admin: MilvusClient,
  collection: string,
  rows: number,
  timeoutMs: number,
): Promise<{ ms: number; rounds: number; segmentsBefore: number; segments: number }> {
  const started = performance.now();
  const liveSegments = async () => {
    const infos = (await admin.getPersistentSegmentInfo({ collectionName: collection })).infos ?? [];
    return infos.filter((i) => String(i.state) !== 'Dropped');
  };
  const settled = (what: string) =>
    waitFor(
      `milvus ${collection}: ${what}`,
      async () => {
        const live = await liveSegments();
        const unsettled = live.filter((i) => String(i.state) !== 'Flushed');
        if (unsettled.length > 0)
          return { waiting: unsettled.map((i) => `segment ${i.segmentID} ${String(i.state)}`).join(', ') };
        const built = await indexesBuilt(admin, collection, { rows });
        return built === true ? live.length : built;
      },
      { timeoutMs, intervalMs: 1000 },
    );
  milvusOk(
    await admin.createIndex({
      collection_name: collection,
      field_name: 'embedding',
      index_type: 'FLAT',
      metric_type: 'L2',
      params: {},
    }),
    'createIndex FLAT (for compaction)',
  );
  const segmentsBefore = await settled('FLAT index for compaction');
  let segments = segmentsBefore;
  let rounds = 0;
  // Until two rounds in a row leave as many segments: a round's plans may still be forming when its state is read.
  for (let unchanged = 0; unchanged < 2 && rounds < 12; rounds++) {
    const { compactionID } = await admin.compact({ collection_name: collection });
    await waitFor(
      `milvus compaction ${compactionID} of ${collection}`,
      async () => {
        const { state } = await admin.getCompactionState({ compactionID });
        return String(state) === 'Completed' || Number(state) === 2 ? true : { waiting: String(state) };
      },
      { timeoutMs, intervalMs: 1000 },
    );
    const after = await settled(`segments flushed and indexed after compaction ${compactionID}`);
    unchanged = after >= segments ? unchanged + 1 : 0;
    segments = Math.min(segments, after);
  }
  milvusOk(await admin.dropIndex({ collection_name: collection, field_name: 'embedding' }), 'dropIndex FLAT');
  return { ms: performance.now() - started, rounds, segmentsBefore, segments };
}

export function milvusTarget(
  stack: RunningStack,
  admin: MilvusClient,
  base: FloatVectors,
  scale: ScaleSpec,
  options: MilvusTargetOptions = {},
): StoreTarget {
  const collection = 'vs_bench_search';
  const { hnsw, rootPath } = stack.config.milvus;
  let sessions: MilvusClient[] = [];
  const plans: IndexPlan[] = [
    {
      index: 'hnsw',
      label: 'HNSW',
      param: 'ef',
      values: MILVUS_SWEEP.ef,
      buildParams: { M: hnsw.m, efConstruction: hnsw.efConstruction },
    },
    {
      index: 'ivf',
      label: 'IVF_FLAT',
      param: 'nprobe',
      values: MILVUS_SWEEP.nprobe.filter((p) => p <= scale.lists),
      buildParams: { nlist: scale.lists },
    },
    { index: 'exact', label: 'FLAT', param: null, values: [null], buildParams: {} },
  ];
  const kind = { hnsw: 'HNSW', ivf: 'IVF_FLAT', exact: 'FLAT' } as const;
  const timeoutMs = options.buildTimeoutMs ?? 2 * 3600_000;
  return {
    store: 'milvus',
    container: dockerContainerName(stack.config, 'milvus'),
    plans: () => plans,
    async load(onProgress) {
      await admin.dropCollection({ collection_name: collection }).catch(() => {});
      milvusOk(
        await admin.createCollection({
          collection_name: collection,
          fields: [
            { name: 'id', data_type: DataType.Int64, is_primary_key: true, autoID: false },
            { name: 'embedding', data_type: DataType.FloatVector, dim: base.dimension },
          ],
        }),
        `createCollection ${collection}`,
      );
      const started = performance.now();
      const step = 100_000;
      for (let from = 0; from < base.count; from += step) {
        const to = Math.min(from + step, base.count);
        await insertBatches(admin, collection, base, INSERT_BATCH, from, to);
        onProgress?.(to);
      }
      await admin.flushSync({ collection_names: [collection] });
      return performance.now() - started;
    },
    settle: () => compactToSteadyState(admin, collection, base.count, timeoutMs),
    async build(plan): Promise<BuildFigures> {
      await admin.releaseCollection({ collection_name: collection }).catch(() => {});
      const existing = await admin.describeIndex({ collection_name: collection });
      if (existing.index_descriptions?.length)
        milvusOk(
          await admin.dropIndex({ collection_name: collection, field_name: 'embedding' }),
          'dropIndex',
        );
      const minio = stack.minio();
      const bucket = stack.config.minio.bucket;
      const before = await indexFileBytes(minio, bucket, rootPath);
      const started = performance.now();
      milvusOk(
        await admin.createIndex({
          collection_name: collection,
          field_name: 'embedding',
          index_type: kind[plan.index],
          metric_type: 'L2',
          params: plan.buildParams,
        }),
        `createIndex ${kind[plan.index]}`,
      );
      await waitFor(
        `milvus ${kind[plan.index]} index on ${collection}`,
        () => indexesBuilt(admin, collection, { rows: base.count }),
        { timeoutMs, intervalMs: 1000 },
      );
      const buildMs = performance.now() - started;
      const loaded = performance.now();
      milvusOk(await admin.loadCollectionSync({ collection_name: collection }), `load ${collection}`);
      const loadMs = performance.now() - loaded;
      const after = await indexFileBytes(minio, bucket, rootPath);
      const segments = await admin.getQuerySegmentInfo({ collectionName: collection });
      return {
        buildMs,
        loadMs,
        sizeBytes: newBuildBytes(before, after),
        sizeSource: `MinIO objects under ${rootPath}/index_files/ new in this build`,
        segments: segments.infos?.length ?? null,
      };
    },
    async openSessions(plan, n) {
      await this.closeSessions();
      sessions = await Promise.all(Array.from({ length: n }, () => ownConnection(stack)));
      return sessions.map(
        (client): SearchSession => ({
          // Milvus rejects ef < k; the value travels with each request.
          prepare: async (value, k) =>
            value === null ? null : plan.index === 'hnsw' ? Math.max(value, k) : value,
          search: (query, k, effective) =>
            searchIds(client, collection, query, k, searchParams(plan, effective)),
          searchMany: (queries, k, effective) =>
            searchManyIds(client, collection, queries, k, searchParams(plan, effective)),
        }),
      );
    },
    async closeSessions() {
      await Promise.allSettled(sessions.map((c) => c.closeConnection()));
      sessions = [];
    },
    async drop() {
      await admin.dropCollection({ collection_name: collection }).catch(() => {});
    },
  };
}
