import { ConsistencyLevelEnum, DataType, type MilvusClient } from '@zilliz/milvus2-sdk-node';
import { type FloatVectors, rowArray } from './vectors.js';

export const STRONG = ConsistencyLevelEnum.Strong;

/** Throws unless a Milvus status says Success; the SDK reports most server errors in the status, not by throwing. */
export function milvusOk(
  status: { error_code?: string | number; reason?: string; code?: number } | undefined,
  what: string,
): void {
  if (status && status.error_code !== undefined && status.error_code !== 'Success' && status.error_code !== 0)
    throw new Error(`milvus ${what} failed: ${status.reason || status.error_code}`);
}

/**
 * Creates a collection (`id` Int64 primary key, `embedding` float vector), runs `work`, and drops the collection
 * whatever happens: scratch data never outlives the run.
 */
export async function withScratchCollection<T>(
  client: MilvusClient,
  name: string,
  dimension: number,
  work: () => Promise<T>,
): Promise<T> {
  milvusOk(
    await client.createCollection({
      collection_name: name,
      fields: [
        { name: 'id', data_type: DataType.Int64, is_primary_key: true, autoID: false },
        { name: 'embedding', data_type: DataType.FloatVector, dim: dimension },
      ],
      consistency_level: 'Strong',
    }),
    `createCollection ${name}`,
  );
  try {
    return await work();
  } finally {
    await client.dropCollection({ collection_name: name }).catch(() => {});
  }
}

/** Inserts rows [from, to) of `vectors` (ids = row numbers) in batches of `batchSize`. */
export async function insertBatches(
  client: MilvusClient,
  name: string,
  vectors: FloatVectors,
  batchSize: number,
  from = 0,
  to = vectors.count,
): Promise<void> {
  for (let start = from; start < to; start += batchSize) {
    const end = Math.min(start + batchSize, to);
    const data = [];
    for (let i = start; i < end; i++) data.push({ id: i, embedding: rowArray(vectors, i) });
    const result = await client.insert({ collection_name: name, data });
    milvusOk(result.status, `insert into ${name}`);
    if (Number(result.insert_cnt) !== end - start)
      throw new Error(`milvus insert into ${name}: ${result.insert_cnt} of ${end - start} rows accepted`);
  }
}

export type MilvusIndexKind = 'HNSW' | 'IVF_FLAT' | 'FLAT';

/** Replaces the collection's vector index (Milvus keeps one per field) and loads the collection for search. */
export async function buildAndLoad(
  client: MilvusClient,
  name: string,
  kind: MilvusIndexKind,
  params: Record<string, number>,
): Promise<void> {
  await client.releaseCollection({ collection_name: name }).catch(() => {});
  const existing = await client.describeIndex({ collection_name: name });
  if (existing.index_descriptions?.length) {
    milvusOk(await client.dropIndex({ collection_name: name, field_name: 'embedding' }), 'dropIndex');
  }
  milvusOk(
    await client.createIndex({
      collection_name: name,
      field_name: 'embedding',
      index_type: kind,
      metric_type: 'L2',
      params,
    }),
    `createIndex ${kind}`,
  );
  milvusOk(await client.loadCollectionSync({ collection_name: name }), `load ${name}`);
}

/**
 * Ids of the `k` nearest rows to `vector` under the loaded index. Callers flush before loading, so every row is in a
 * sealed segment: Bounded consistency sees them without Strong's wait for the next time tick (~200 ms a query).
 */
export async function searchIds(
  client: MilvusClient,
  name: string,
  vector: number[],
  k: number,
  params: Record<string, number>,
): Promise<number[]> {
  return (await searchManyIds(client, name, [vector], k, params))[0]!;
}

/** Several query vectors in one search request (`nq` = their count); the ids found for each, in order. */
export async function searchManyIds(
  client: MilvusClient,
  name: string,
  vectors: number[][],
  k: number,
  params: Record<string, number>,
): Promise<number[][]> {
  const found = await client.search({
    collection_name: name,
    data: vectors,
    limit: k,
    params,
    metric_type: 'L2',
    // The primary key must be listed: newer SDKs leave it out of results otherwise.
    output_fields: ['id'],
    consistency_level: ConsistencyLevelEnum.Bounded,
  });
  milvusOk(found.status, `search ${name}`);
  // The SDK answers one query with its hits, several with one list of hits per query; no hits at all: [].
  const lists = (vectors.length === 1 ? [found.results] : found.results) as { id: string | number }[][];
  return vectors.map((_, i) => (lists[i] ?? []).map((r) => Number(r.id)));
}
