// The chaos tests' mixed load and read-back, through the running-stack handle of either target: PostgreSQL commits
// through the application role, Milvus inserts through rag_app, Redis SETs through the cache user. Used by the Docker
// chaos test (containers killed) and the staging test on the local cluster (pods deleted).
import { ConsistencyLevelEnum, type MilvusClient } from '@zilliz/milvus2-sdk-node';
import type pg from 'pg';
import type { RedisClient } from '../../lib/clients.js';
import type { RunningStack } from '../../lib/stack/running-stack.js';
import {
  type AckLedger,
  batches,
  type KillOutcome,
  type LossWindow,
  longestAckGap,
  missingIds,
  redisLossWindowMs,
  requiredIds,
  type StoreWriter,
  WriterLoop,
} from '../../lib/verify/chaos-load.js';
import { MILVUS_COLLECTIONS, MILVUS_FIELDS } from '../../schemas/milvus/collections.js';

export const STORES = ['postgres', 'milvus', 'redis'] as const;
export type Store = (typeof STORES)[number];

export interface LoadOptions {
  /** The handle the writers connect through (read when a writer (re)connects). */
  stack: () => RunningStack;
  ledger: AckLedger;
  /** Unique per run: every id starts with it. */
  runId: string;
  /** Round label, part of every id. */
  round: string;
  /** Dimension of the dense collection. */
  dimension: number;
  /** Bound on each loop's running time. */
  maxDurationMs: number;
}

function postgresWriter(stack: () => RunningStack): StoreWriter {
  let client: pg.Client | undefined;
  return {
    async open() {
      const c = await stack().postgres({ retry: { attempts: 1 } }); // the application role
      c.on('error', () => {}); // a dropped connection surfaces through the next query
      client = c;
    },
    async write(ids) {
      // One statement, one commit (autocommit): acknowledged means committed.
      await client!.query(
        `INSERT INTO documents (source_type, source_id) SELECT 'chaos', unnest($1::text[])`,
        [ids],
      );
    },
    async close() {
      const c = client;
      client = undefined;
      await c?.end().catch(() => {});
    },
  };
}

function milvusWriter(stack: () => RunningStack, runId: string, dim: number): StoreWriter {
  let client: MilvusClient | undefined;
  return {
    async open() {
      client = await stack().milvus({
        username: 'rag_app',
        password: stack().credentials.milvus_app_password,
        retry: { attempts: 1 },
      });
    },
    async write(ids) {
      const result = await client!.insert({
        collection_name: MILVUS_COLLECTIONS.dense,
        data: ids.map((id, i) => ({
          [MILVUS_FIELDS.chunkId]: id,
          [MILVUS_FIELDS.dense]: Array.from({ length: dim }, (_, d) => ((i + d) % 7) / 7 + 0.01),
          document_id: runId,
          source_type: 'chaos',
          language: 'en',
          chunk_position: i,
          created_timestamp: Date.now(),
        })),
      });
      if (result.status.error_code !== 'Success')
        throw new Error(`insert refused: ${result.status.error_code} ${result.status.reason}`);
      if (Number(result.insert_cnt) !== ids.length)
        throw new Error(`insert acknowledged ${result.insert_cnt} of ${ids.length} rows`);
    },
    async close() {
      const c = client;
      client = undefined;
      await c?.closeConnection().catch(() => {});
    },
  };
}

function redisWriter(stack: () => RunningStack): StoreWriter {
  let client: RedisClient | undefined;
  return {
    async open() {
      client = await stack().redis({
        username: 'cache',
        password: stack().credentials.redis_cache_password,
        retry: { attempts: 1 },
      });
    },
    async write(ids) {
      for (const id of ids) {
        const reply = await client!.set(`cache:chaos:${id}`, id);
        if (reply !== 'OK') throw new Error(`SET answered ${reply}`);
      }
    },
    async close() {
      const c = client;
      client = undefined;
      try {
        c?.destroy();
      } catch {}
    },
  };
}

/**
 * Starts the three bounded writer loops. Modest: about 25 commits, 5 Milvus inserts of 10 rows and 25 SETs a second,
 * bounded in count and time.
 */
export function startLoad(options: LoadOptions): Record<Store, WriterLoop> {
  const { stack, ledger, runId, round } = options;
  const common = { maxDurationMs: options.maxDurationMs, failureBackoffMs: 500, timeoutMs: 15_000 };
  return {
    postgres: new WriterLoop(postgresWriter(stack), ledger, {
      ...common,
      store: 'postgres',
      idPrefix: `${runId}-${round}-pg`,
      intervalMs: 40,
      maxWrites: 20_000,
    }).start(),
    milvus: new WriterLoop(milvusWriter(stack, runId, options.dimension), ledger, {
      ...common,
      store: 'milvus',
      idPrefix: `${runId}-${round}-mv`,
      batchSize: 10,
      intervalMs: 200,
      maxWrites: 5_000,
    }).start(),
    redis: new WriterLoop(redisWriter(stack), ledger, {
      ...common,
      store: 'redis',
      idPrefix: `${runId}-${round}-rd`,
      intervalMs: 40,
      maxWrites: 20_000,
    }).start(),
  };
}

/** Which of `ids` the store holds now (Milvus: a Strong query, so every acknowledged insert is visible). */
export async function presentIds(stack: RunningStack, store: Store, ids: string[]): Promise<Set<string>> {
  const found = new Set<string>();
  if (ids.length === 0) return found;
  if (store === 'postgres') {
    await stack.with(stack.postgres({ role: 'readonly' }), async (c) => {
      for (const batch of batches(ids, 5000)) {
        const rows = await c.query<{ source_id: string }>(
          `SELECT source_id FROM documents WHERE source_type = 'chaos' AND source_id = ANY($1::text[])`,
          [batch],
        );
        for (const r of rows.rows) found.add(r.source_id);
      }
    });
  } else if (store === 'milvus') {
    await stack.with(
      stack.milvus({ username: 'rag_reader', password: stack.credentials.milvus_readonly_password }),
      async (c) => {
        for (const batch of batches(ids, 500)) {
          const result = await c.query({
            collection_name: MILVUS_COLLECTIONS.dense,
            filter: `${MILVUS_FIELDS.chunkId} in ${JSON.stringify(batch)}`,
            output_fields: [MILVUS_FIELDS.chunkId],
            consistency_level: ConsistencyLevelEnum.Strong,
          });
          if (result.status.error_code !== 'Success')
            throw new Error(`milvus query refused: ${result.status.reason}`);
          for (const r of result.data) found.add(r[MILVUS_FIELDS.chunkId] as string);
        }
      },
    );
  } else {
    await stack.with(
      stack.redis({ username: 'cache', password: stack.credentials.redis_cache_password }),
      async (c) => {
        for (const batch of batches(ids, 1000)) {
          const values = await c.mGet(batch.map((id) => `cache:chaos:${id}`));
          values.forEach((v, i) => {
            if (v === batch[i]) found.add(batch[i]!);
          });
        }
      },
    );
  }
  return found;
}

/** Milvus serves a Strong query only on a loaded collection: load it (idempotent, as an application would). */
export async function ensureMilvusLoaded(stack: RunningStack): Promise<void> {
  await stack.with(
    stack.milvus({ username: 'rag_app', password: stack.credentials.milvus_app_password }),
    async (c) => {
      const loaded = await c.loadCollectionSync({ collection_name: MILVUS_COLLECTIONS.dense });
      if (loaded.error_code !== 'Success') throw new Error(`load refused: ${loaded.reason}`);
    },
  );
}

/** The window in which Redis may lose acknowledged SETs across a kill, from its AOF settings (null: no guarantee). */
export async function redisWindow(stack: RunningStack): Promise<{ ms: number | null; settings: string }> {
  return stack.with(stack.redis(), async (c) => {
    const appendonly = (await c.configGet('appendonly')).appendonly ?? '';
    const appendfsync = (await c.configGet('appendfsync')).appendfsync ?? '';
    return {
      ms: redisLossWindowMs(appendonly, appendfsync),
      settings: `appendonly ${appendonly}, appendfsync ${appendfsync}`,
    };
  });
}

/** What one store holds after a round, against what it acknowledged. */
export interface StoreReadBack {
  store: Store;
  /** Ids the store acknowledged before the kill (must be > 0 for the round to prove anything). */
  ackedBeforeKill: number;
  /** Acknowledged and covered by the store's guarantee, yet absent. */
  missing: string[];
  outcome: KillOutcome['stores'][number];
  /** Writes of this round that were not acknowledged. */
  failedWrites: number;
  /** Longest time between acknowledgements from the kill to the end of recovery. */
  gapMs: number;
}

/**
 * Reads back every id acknowledged so far (all rounds) from each store, after loading the Milvus collection.
 * `before` is the ledger length when the round's load started.
 */
export async function readBackRound(
  stack: RunningStack,
  ledger: AckLedger,
  lossWindows: LossWindow[],
  round: { before: number; killedAt: number; recoveredAt: number },
): Promise<StoreReadBack[]> {
  await ensureMilvusLoaded(stack);
  const results: StoreReadBack[] = [];
  for (const store of STORES) {
    const { required, exempt } = requiredIds(ledger, store, lossWindows);
    const found = await presentIds(stack, store, [...required, ...exempt]);
    const missing = missingIds(required, found);
    const lostExempt = missingIds(exempt, found);
    const ackedBeforeKill = ledger.acked(store, { to: round.killedAt }).length;
    const ackedInRound = ledger.records
      .slice(round.before)
      .filter((r) => r.store === store && r.acked).length;
    results.push({
      store,
      ackedBeforeKill,
      missing,
      outcome: {
        store,
        ackedBeforeKill,
        ackedTotal: required.length + exempt.length,
        found: required.length + exempt.length - missing.length - lostExempt.length,
        exempt: exempt.length,
      },
      failedWrites: ledger.summary(store, round.before).writes - ackedInRound,
      gapMs: longestAckGap(ledger, store, round.killedAt, round.recoveredAt),
    });
  }
  return results;
}

/** The per-store columns of a round's row in the kill table. */
export function roundOutcome(
  readBack: StoreReadBack[],
): Pick<KillOutcome, 'stores' | 'gapsMs' | 'failedWrites'> {
  return {
    stores: readBack.map((r) => r.outcome),
    gapsMs: Object.fromEntries(readBack.map((r) => [r.store, r.gapMs])),
    failedWrites: Object.fromEntries(readBack.map((r) => [r.store, r.failedWrites])),
  };
}
