// The Milvus side of the check: which collections of the data model hold vectors by chunk id, their ids in ascending
// order a page at a time, look-ups that confirm a difference, and deletes.
import { ConsistencyLevelEnum, type MilvusClient } from '@zilliz/milvus2-sdk-node';
import {
  MILVUS_COLLECTIONS,
  MILVUS_FIELDS,
  type MilvusCollectionSpec,
  milvusCollectionSpecs,
} from '../../../schemas/milvus/collections.js';
import type { VectorstackConfig } from '../../config/schema.js';
import { checkStatus } from '../../milvus/status.js';
import { ConsistencyError } from './types.js';

/** Milvus answers at most this many rows per query (its topK / query window limit). */
export const MILVUS_MAX_PAGE = 16_384;
/** Collections every embedded chunk needs a vector in unless told otherwise: the dense one. */
export const DEFAULT_REQUIRED: string[] = [MILVUS_COLLECTIONS.dense];

/** A collection of the data model present on the server. */
export interface VectorCollection {
  /** Name on the server (prefix included). */
  name: string;
  spec: MilvusCollectionSpec;
  /** `primary-key`: chunk_id is the primary key; `token-rows`: token_id is, chunk_id a field. */
  keyedBy: 'primary-key' | 'token-rows';
  /** Every embedded chunk must have a vector here. */
  required: boolean;
}

/** The primary key field of a spec. */
const primaryKey = (spec: MilvusCollectionSpec) => spec.fields.find((f) => f.primaryKey)!.name;

/** A Milvus string literal (JSON's escapes are the ones Milvus's expression parser reads). */
const literal = (value: string) => JSON.stringify(value);
const inList = (field: string, ids: string[]) => `${field} in [${ids.map(literal).join(',')}]`;

/**
 * The collections of the data model (every spec with a chunk_id field) that exist on the server, each marked required
 * or not. A required collection that is missing, or an unknown name in `require`, is an error.
 */
export async function dataModelCollections(
  client: MilvusClient,
  config: VectorstackConfig,
  prefix: string,
  require: string[],
): Promise<VectorCollection[]> {
  const specs = milvusCollectionSpecs(config).filter((s) =>
    s.fields.some((f) => f.name === MILVUS_FIELDS.chunkId),
  );
  const unknown = require.filter((name) => !specs.some((s) => s.name === name));
  if (unknown.length > 0)
    throw new ConsistencyError(
      `unknown collection(s) to require: ${unknown.join(', ')}; allowed values: ${specs.map((s) => s.name).join(', ')}`,
    );
  const listed = await client.listCollections();
  checkStatus(listed.status, 'listCollections');
  const live = new Set(listed.data.map((c) => c.name));
  const missing = require.filter((name) => !live.has(prefix + name));
  if (missing.length > 0)
    throw new ConsistencyError('required Milvus collections do not exist', {
      problems: missing.map((name) => `milvus collection ${prefix + name} does not exist`),
      remedy: `run: npm run bootstrap${prefix ? ` -- --prefix ${prefix}` : ''} (or leave it out of --require)`,
    });
  return specs
    .filter((spec) => live.has(prefix + spec.name))
    .map((spec) => ({
      name: prefix + spec.name,
      spec,
      keyedBy: primaryKey(spec) === MILVUS_FIELDS.chunkId ? 'primary-key' : 'token-rows',
      required: require.includes(spec.name),
    }));
}

/** Queries need a loaded collection; an unloaded one is reported with the command that loads it. */
export async function requireLoaded(client: MilvusClient, collection: VectorCollection, prefix: string) {
  const load = await client.getLoadState({ collection_name: collection.name });
  checkStatus(load.status, `getLoadState ${collection.name}`);
  if (load.state !== 'LoadStateLoaded')
    throw new ConsistencyError(
      `milvus collection ${collection.name} is not loaded (${load.state}): it cannot be queried`,
      {
        remedy: `run: npm run bootstrap${prefix ? ` -- --prefix ${prefix}` : ''} (it loads every collection)`,
      },
    );
}

/** A hybrid timestamp (physical ms << 18) for Customized consistency: every write acknowledged before it is seen. */
export function milvusTimestamp(ms = Date.now()): string {
  return (BigInt(ms) << 18n).toString();
}

async function query(
  client: MilvusClient,
  collection: string,
  expr: string,
  fields: string[],
  limit: number,
  consistency: { level: ConsistencyLevelEnum; guaranteeTs?: string },
): Promise<Record<string, unknown>[]> {
  const answer = await client.query({
    collection_name: collection,
    expr,
    output_fields: fields,
    limit,
    consistency_level: consistency.level,
    // Not in the SDK's request type but in the protocol's: the time every answer must include writes up to.
    ...(consistency.guaranteeTs ? { guarantee_timestamp: consistency.guaranteeTs } : {}),
  } as Parameters<MilvusClient['query']>[0]);
  checkStatus(answer.status, `query ${collection} (${expr.slice(0, 80)})`);
  return answer.data;
}

/**
 * The collection's chunk ids in ascending order, a page (at most MILVUS_MAX_PAGE rows) per query: each page asks for
 * primary keys after the last one seen, and Milvus returns a limited query's rows in primary-key order. The first page
 * is read with Strong consistency, the rest with Customized consistency at `startTs`, so every vector acknowledged
 * before the scan began is seen without each page waiting for the next time tick. Token rows are read by token_id
 * (`${chunk_id}:${position}`) and yield each chunk id once; so does a primary key Milvus holds twice (it does not
 * enforce unique keys on insert).
 */
export async function* vectorIdPages(
  client: MilvusClient,
  collection: VectorCollection,
  options: { pageSize: number; startTs?: string },
): AsyncGenerator<string[]> {
  const key = primaryKey(collection.spec);
  const tokens = collection.keyedBy === 'token-rows';
  const fields = tokens ? [key, MILVUS_FIELDS.chunkId] : [key];
  const pageSize = Math.min(options.pageSize, MILVUS_MAX_PAGE);
  const startTs = options.startTs ?? milvusTimestamp();
  let last: string | undefined;
  let lastId: string | undefined;
  for (let page = 0; ; page++) {
    const rows = await query(
      client,
      collection.name,
      last === undefined ? `${key} >= ""` : `${key} > ${literal(last)}`,
      fields,
      pageSize,
      page === 0
        ? { level: ConsistencyLevelEnum.Strong }
        : { level: ConsistencyLevelEnum.Customized, guaranteeTs: startTs },
    );
    if (rows.length === 0) return;
    const ids: string[] = [];
    for (const row of rows) {
      const id = String(row[tokens ? MILVUS_FIELDS.chunkId : key]);
      if (id !== lastId) ids.push(id);
      lastId = id;
    }
    yield ids;
    if (rows.length < pageSize) return;
    last = String(rows[rows.length - 1]![key]);
  }
}

/** True when the collection holds no row at all (a Strong read). */
export async function isEmpty(client: MilvusClient, collection: VectorCollection): Promise<boolean> {
  const key = primaryKey(collection.spec);
  const rows = await query(client, collection.name, `${key} >= ""`, [key], 1, {
    level: ConsistencyLevelEnum.Strong,
  });
  return rows.length === 0;
}

/** Ids per look-up: keeps the `in [...]` expression small. */
const LOOKUP_BATCH = 1000;
/** Chunk ids per token-row look-up: a chunk holds at most 512 rows, and one query returns at most MILVUS_MAX_PAGE. */
const TOKEN_LOOKUP_BATCH = 32;

/** Which of `ids` (chunk ids) hold a vector in the collection now (Strong consistency). */
export async function presentChunkIds(
  client: MilvusClient,
  collection: VectorCollection,
  ids: string[],
): Promise<Set<string>> {
  const found = new Set<string>();
  const batch = collection.keyedBy === 'token-rows' ? TOKEN_LOOKUP_BATCH : LOOKUP_BATCH;
  for (let i = 0; i < ids.length; i += batch) {
    const part = ids.slice(i, i + batch);
    const rows = await query(
      client,
      collection.name,
      inList(MILVUS_FIELDS.chunkId, part),
      [MILVUS_FIELDS.chunkId],
      MILVUS_MAX_PAGE,
      { level: ConsistencyLevelEnum.Strong },
    );
    for (const row of rows) found.add(String(row[MILVUS_FIELDS.chunkId]));
  }
  return found;
}

/**
 * Deletes every vector of the given chunks from the collection: by primary key, or for token rows by chunk_id.
 * Idempotent: ids without vectors are no-ops.
 */
export async function deleteChunkVectors(
  client: MilvusClient,
  collection: string,
  ids: string[],
): Promise<void> {
  if (ids.length === 0) return;
  const result = await client.delete({
    collection_name: collection,
    filter: inList(MILVUS_FIELDS.chunkId, ids),
  });
  checkStatus(result.status, `delete from ${collection}`);
}
