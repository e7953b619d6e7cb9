// `npm run consistency`: compares the chunks in PostgreSQL with the vectors in each Milvus collection of the data model
// by id, streaming both sides in id order (constant memory), and with `repair` fixes what it safely can. Each
// difference is confirmed by a fresh look-up in both stores before it is counted or repaired, so writes that land
// while the scan runs are not reported (or deleted) as inconsistencies.
import type { MilvusClient } from '@zilliz/milvus2-sdk-node';
import type pg from 'pg';
import { validateInputs } from '../../bootstrap/validate.js';
import type { VectorstackConfig } from '../../config/schema.js';
import { EXIT } from '../../errors.js';
import type { RunningStack } from '../../stack/running-stack.js';
import type { Progress } from '../../util/progress.js';
import { emptyCounts, type MergeCounts, mergeCompare } from './merge.js';
import {
  DEFAULT_REQUIRED,
  dataModelCollections,
  deleteChunkVectors,
  isEmpty,
  MILVUS_MAX_PAGE,
  milvusTimestamp,
  presentChunkIds,
  requireLoaded,
  type VectorCollection,
  vectorIdPages,
} from './milvus-side.js';
import { drainOutboxSettled } from './outbox.js';
import {
  chunkPages,
  embeddedChunkIds,
  existingChunkIds,
  markForReembedding,
  orphanedChunks,
  pendingOutboxCount,
  pendingOutboxIds,
  requireTables,
  withAdvisoryLock,
} from './pg-side.js';
import { unresolved } from './report.js';
import { milvusMismatches, postgresMismatches, throwOnMismatches } from './schema-check.js';
import { readAhead } from './streams.js';
import { type CollectionReport, type ConsistencyReport, type Finding, TABLES } from './types.js';

export interface ConsistencyOptions {
  /** PostgreSQL schema of the data model. @default 'public' */
  schema?: string;
  /** Prefix of the Milvus collections. @default '' */
  prefix?: string;
  /**
   * Drain the outbox, delete vectors without a chunk, mark embedded chunks without a vector for re-embedding. Never
   * deletes a PostgreSQL row. @default false
   */
  repair?: boolean;
  /** Collections (names without the prefix) every embedded chunk needs a vector in. @default ['rag_chunks'] */
  require?: string[];
  /** What the live stores are compared with. @default stack.config */
  config?: VectorstackConfig;
  /** Chunk rows per PostgreSQL query. @default 10000 */
  pgPageSize?: number;
  /** Ids per Milvus query (Milvus allows at most 16384). @default 16384 */
  milvusPageSize?: number;
  /** Outbox entries per drain transaction, and differences per confirmation and repair. @default 500 */
  batchSize?: number;
  /** Ids of each finding listed in the report. @default 10 */
  sampleSize?: number;
  /** Recorded in drained outbox entries. @default `${hostname}:${pid}` */
  drainer?: string;
  /**
   * Longest wait for another repair of the same schema and prefix: for its comparison to end, and for the outbox
   * entries its drain holds to be committed. @default 600000
   */
  lockTimeoutMs?: number;
  progress?: Progress;
}

/** Progress line every this many chunk rows. */
const PROGRESS_EVERY = 200_000;

interface Context {
  schema: string;
  prefix: string;
  repair: boolean;
  batchSize: number;
  sampleSize: number;
  pgPageSize: number;
  milvusPageSize: number;
  /** Verification and repairs (application role when repairing, read-only otherwise). */
  pg: pg.Client;
  /** The chunk scan (read-only role), so its read-ahead never queues behind a verification. */
  scan: pg.Client;
  milvus: MilvusClient;
  progress?: Progress;
}

const finding = (): Finding => ({ found: 0, repaired: 0, sample: [] });

function note(f: Finding, ids: string[], sampleSize: number): void {
  f.found += ids.length;
  for (const id of ids) if (f.sample.length < sampleSize) f.sample.push(id);
}

/** Runs the check (and with `repair`, the repair) against a running stack. Throws ConsistencyError on failure (exit 1). */
export async function runConsistency(
  stack: RunningStack,
  options: ConsistencyOptions = {},
): Promise<ConsistencyReport> {
  const started = performance.now();
  const startRss = process.memoryUsage().rss;
  const config = options.config ?? stack.config;
  const schema = options.schema ?? 'public';
  const prefix = options.prefix ?? '';
  validateInputs({ postgresSchema: schema, prefix }, [], []);
  const repair = options.repair ?? false;
  const progress = options.progress;

  const [work, scan, milvus] = await Promise.all([
    stack.postgres({ role: repair ? 'app' : 'readonly' }),
    stack.postgres({ role: 'readonly' }),
    stack.milvus(),
  ]);
  const ctx: Context = {
    schema,
    prefix,
    repair,
    batchSize: options.batchSize ?? 500,
    sampleSize: options.sampleSize ?? 10,
    pgPageSize: options.pgPageSize ?? 10_000,
    milvusPageSize: Math.min(options.milvusPageSize ?? MILVUS_MAX_PAGE, MILVUS_MAX_PAGE),
    pg: work,
    scan,
    milvus,
    progress,
  };
  try {
    await requireTables(work, schema);
    const collections = await dataModelCollections(
      milvus,
      config,
      prefix,
      options.require ?? DEFAULT_REQUIRED,
    );
    throwOnMismatches([
      ...(await postgresMismatches(work, schema, config)),
      ...(await milvusMismatches(milvus, collections)),
    ]);
    for (const collection of collections) await requireLoaded(milvus, collection, prefix);

    const pendingBefore = await pendingOutboxCount(work, schema);
    let drained = 0;
    if (repair && pendingBefore > 0) {
      progress?.log(`outbox: ${pendingBefore} pending entries to apply`);
      const result = await drainOutboxSettled(work, milvus, {
        schema,
        collections: collections.map((c) => c.name),
        batchSize: ctx.batchSize,
        drainer: options.drainer,
        progress,
        timeoutMs: options.lockTimeoutMs ?? 600_000,
      });
      drained = result.drained;
    }

    const compareAll = async () => {
      const reports: CollectionReport[] = [];
      const totals = emptyCounts();
      for (const collection of collections) {
        const { report, counts } = await compareCollection(ctx, collection);
        reports.push(report);
        totals.vectors += counts.vectors;
        totals.chunks += counts.chunks;
      }
      return { reports, totals };
    };
    const { reports, totals } = repair
      ? await withAdvisoryLock(work, `vectorstack:consistency:${schema}:${prefix}`, compareAll, {
          timeoutMs: options.lockTimeoutMs ?? 600_000,
          onWait: () => progress?.log('waiting for another repair of this schema and prefix to finish'),
        })
      : await compareAll();

    const orphaned = await orphanedChunks(work, schema, ctx.sampleSize);
    const pendingAfter = await pendingOutboxCount(work, schema);
    const chunks = await chunkTotals(work, schema);
    const report: ConsistencyReport = {
      mode: repair ? 'repair' : 'check',
      environment: config.environment,
      schema,
      prefix,
      exitCode: EXIT.ok,
      chunks,
      orphanedChunks: { found: orphaned.found, repaired: 0, sample: orphaned.sample },
      outbox: {
        pendingBefore,
        drained,
        pendingAfter,
        appliedTo: drained > 0 ? collections.map((c) => c.name) : [],
      },
      collections: reports,
      stats: {
        seconds: Number(((performance.now() - started) / 1000).toFixed(2)),
        maxRssMb: Math.round(process.resourceUsage().maxRSS / 1024),
        startRssMb: Math.round(startRss / 1048576),
        postgresRows: totals.chunks,
        milvusIds: totals.vectors,
      },
    };
    report.exitCode = unresolved(report) > 0 ? EXIT.drift : EXIT.ok;
    return report;
  } finally {
    await Promise.allSettled([work.end(), scan.end(), milvus.closeConnection()]);
  }
}

async function chunkTotals(client: pg.Client, schema: string): Promise<{ total: number; embedded: number }> {
  const { rows } = await client.query<{ total: number; embedded: number }>(
    `SELECT count(*)::int AS total, count(*) FILTER (WHERE embedding_status = 'embedded')::int AS embedded
       FROM ${schema}.${TABLES.chunks}`,
  );
  return rows[0]!;
}

/** Counts rows as pages go by and logs every PROGRESS_EVERY. */
async function* counted<T>(pages: AsyncIterable<T[]>, log: (rows: number) => void): AsyncGenerator<T[]> {
  let rows = 0;
  let next = PROGRESS_EVERY;
  for await (const page of pages) {
    rows += page.length;
    if (rows >= next) {
      log(rows);
      next += PROGRESS_EVERY;
    }
    yield page;
  }
}

/** Merges the chunks with one collection's ids, confirming and (with repair) fixing differences in batches. */
async function compareCollection(
  ctx: Context,
  collection: VectorCollection,
): Promise<{ report: CollectionReport; counts: MergeCounts }> {
  const report: CollectionReport = {
    collection: collection.name,
    keyedBy: collection.keyedBy,
    required: collection.required,
    vectors: 0,
    vectorsWithoutChunk: finding(),
    embeddedWithoutVector: finding(),
    awaitingDrain: 0,
  };
  const counts = emptyCounts();
  // An optional collection without rows cannot hold a vector without a chunk, and is not asked to hold any.
  if (!collection.required && (await isEmpty(ctx.milvus, collection))) {
    ctx.progress?.log(`${collection.name}: empty, nothing to compare`);
    return { report, counts };
  }
  ctx.progress?.log(`${collection.name}: comparing ids with ${ctx.schema}.${TABLES.chunks}`);
  let vectorCandidates: string[] = [];
  let chunkCandidates: string[] = [];

  const confirmVectors = async () => {
    const ids = vectorCandidates;
    vectorCandidates = [];
    if (ids.length === 0) return;
    const [exist, pending] = await Promise.all([
      existingChunkIds(ctx.pg, ctx.schema, ids),
      pendingOutboxIds(ctx.pg, ctx.schema, ids),
    ]);
    const awaiting = ids.filter((id) => !exist.has(id) && pending.has(id));
    const gone = ids.filter((id) => !exist.has(id) && !pending.has(id));
    // Read after PostgreSQL: a drain deletes the vectors before it commits the entry done, so a vector deleted since
    // the scan's snapshot (its entry now done) is no longer there.
    const still = gone.length > 0 ? await presentChunkIds(ctx.milvus, collection, gone) : new Set<string>();
    const confirmed = gone.filter((id) => still.has(id));
    report.awaitingDrain += awaiting.length;
    note(report.vectorsWithoutChunk, confirmed, ctx.sampleSize);
    if (ctx.repair && confirmed.length > 0) {
      await deleteChunkVectors(ctx.milvus, collection.name, confirmed);
      report.vectorsWithoutChunk.repaired += confirmed.length;
      ctx.progress?.log(
        `${collection.name}: deleted ${report.vectorsWithoutChunk.repaired} vectors without a chunk`,
      );
    }
  };
  const confirmChunks = async () => {
    const ids = chunkCandidates;
    chunkCandidates = [];
    if (ids.length === 0) return;
    const present = await presentChunkIds(ctx.milvus, collection, ids);
    const still = await embeddedChunkIds(
      ctx.pg,
      ctx.schema,
      ids.filter((id) => !present.has(id)),
    );
    const confirmed = ids.filter((id) => still.has(id));
    note(report.embeddedWithoutVector, confirmed, ctx.sampleSize);
    if (ctx.repair && confirmed.length > 0) {
      report.embeddedWithoutVector.repaired += await markForReembedding(ctx.pg, ctx.schema, confirmed);
      ctx.progress?.log(
        `${collection.name}: marked ${report.embeddedWithoutVector.repaired} embedded chunks without a vector for re-embedding`,
      );
    }
  };

  const chunks = counted(readAhead(chunkPages(ctx.scan, ctx.schema, ctx.pgPageSize)), (rows) =>
    ctx.progress?.log(`${collection.name}: ${rows} chunk ids compared`),
  );
  const vectors = readAhead(
    vectorIdPages(ctx.milvus, collection, { pageSize: ctx.milvusPageSize, startTs: milvusTimestamp() }),
  );
  const names = { chunks: `postgres ${ctx.schema}.${TABLES.chunks}`, vectors: `milvus ${collection.name}` };
  for await (const difference of mergeCompare(chunks, vectors, counts, names)) {
    if (difference.kind === 'vectorWithoutChunk') {
      vectorCandidates.push(difference.id);
      if (vectorCandidates.length >= ctx.batchSize) await confirmVectors();
    } else if (collection.required) {
      chunkCandidates.push(difference.id);
      if (chunkCandidates.length >= ctx.batchSize) await confirmChunks();
    }
  }
  await confirmVectors();
  await confirmChunks();
  report.vectors = counts.vectors;
  return { report, counts };
}
