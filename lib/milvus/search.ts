// Retrieval over the reference data model: hybrid search (dense + sparse/BM25, fused by RRF or weights) and
// multi-vector max-sim search. Each result says how it was computed (server-side or here).
import { type MilvusClient, RRFRanker, WeightedRanker } from '@zilliz/milvus2-sdk-node';
import {
  MILVUS_COLLECTIONS,
  MILVUS_FIELDS,
  type MultiVectorMetric,
  tokenRowId,
} from '../../schemas/milvus/collections.js';
import { detectMilvusCapabilities, type MilvusCapabilities, supports } from './capabilities.js';
import { DEFAULT_RRF_K, rrfFuse, type ScoredId, type ScoreMetric, weightedFuse } from './fusion.js';
import { candidateChunks, rankByMaxSim } from './maxsim.js';
import { checkStatus, MilvusCallError } from './status.js';

/** A dense vector, a sparse vector (index → weight), or query text for a BM25 function's output field. */
export type SearchVector = number[] | Record<number, number> | string;

/** One retrieval leg of a hybrid search. */
export interface SearchLeg {
  /** Collection name, prefix included. */
  collection: string;
  /** The vector field searched, e.g. `embedding`, `sparse_embedding`, `bm25_sparse`. */
  annsField: string;
  data: SearchVector;
  /** The metric of the field's index; weighted fusion normalizes scores by it. */
  metric: ScoreMetric;
  /** Search parameters, e.g. `{ ef: 64 }`. */
  params?: Record<string, number | string>;
  /** Boolean filter expression, e.g. `language == "en"`. */
  filter?: string;
}

export type Ranker = { type: 'rrf'; k?: number } | { type: 'weighted'; weights: number[] };

export interface HybridSearchOptions {
  legs: SearchLeg[];
  /** Hits returned. */
  limit: number;
  /** @default { type: 'rrf', k: 60 } */
  ranker?: Ranker;
  /** Hits each leg contributes before client-side fusion. @default max(4 × limit, 20) */
  candidatesPerLeg?: number;
  /** Primary key field of the legs' collections. @default 'chunk_id' */
  idField?: string;
  /** What the server can do; detected (`hybridSearch`) when absent. */
  capabilities?: MilvusCapabilities;
}

export interface HybridSearchResult {
  hits: ScoredId[];
  /** `server`: one HybridSearch call with a server-side ranker; `client`: one search per leg, fused here. */
  fusion: 'server' | 'client';
  ranker: 'rrf' | 'weighted';
  /** Why this fusion was used. */
  reason: string;
}

/** Rows of a search answer: the SDK returns a flat list for one query vector and one list per query otherwise. */
function rowsOf(results: unknown, queries: number): Record<string, unknown>[][] {
  const list = (results ?? []) as unknown[];
  if (queries === 1 && !Array.isArray(list[0])) return [list as Record<string, unknown>[]];
  return list as Record<string, unknown>[][];
}

const idOf = (row: Record<string, unknown>, idField: string) => String(row[idField] ?? row.id);

/**
 * Dense + sparse/BM25 (or any legs) fused into one ranking. Server-side (the SDK's hybridSearch with RRFRanker or
 * WeightedRanker) when every leg searches the same collection and the server answers HybridSearch; otherwise one
 * search per leg and the same fusion here (lib/milvus/fusion.ts) — the reference model keeps dense and lexical
 * vectors in separate collections, so its hybrid search fuses client-side.
 */
export async function hybridSearch(
  client: MilvusClient,
  options: HybridSearchOptions,
): Promise<HybridSearchResult> {
  const { legs, limit } = options;
  if (legs.length === 0) throw new RangeError('hybridSearch: at least one leg');
  const ranker = options.ranker ?? { type: 'rrf', k: DEFAULT_RRF_K };
  if (ranker.type === 'weighted' && ranker.weights.length !== legs.length)
    throw new RangeError(`hybridSearch: ${ranker.weights.length} weight(s) for ${legs.length} leg(s)`);
  const idField = options.idField ?? MILVUS_FIELDS.chunkId;
  const sameCollection = legs.every((l) => l.collection === legs[0]!.collection);
  let reason: string;
  if (!sameCollection) reason = 'the legs search different collections';
  else {
    const caps =
      options.capabilities?.features.hybridSearch !== undefined
        ? options.capabilities
        : await detectMilvusCapabilities(client, { features: ['hybridSearch'] });
    if (supports(caps, 'hybridSearch')) {
      const answer = await client.hybridSearch({
        collection_name: legs[0]!.collection,
        data: legs.map((leg) => ({
          data: leg.data,
          anns_field: leg.annsField,
          ...(leg.params ? { params: leg.params } : {}),
          ...(leg.filter ? { expr: leg.filter } : {}),
        })),
        rerank: ranker.type === 'rrf' ? RRFRanker(ranker.k ?? DEFAULT_RRF_K) : WeightedRanker(ranker.weights),
        limit,
        output_fields: [idField],
      });
      checkStatus(answer.status, `hybridSearch ${legs[0]!.collection}`);
      return {
        hits: rowsOf(answer.results, 1)[0]!.map((row) => ({
          id: idOf(row, idField),
          score: Number(row.score),
        })),
        fusion: 'server',
        ranker: ranker.type,
        reason: 'one collection, and the server answers HybridSearch',
      };
    }
    reason = `the server does not answer HybridSearch (${caps.features.hybridSearch?.detail})`;
  }

  const candidates = options.candidatesPerLeg ?? Math.max(4 * limit, 20);
  const lists = await Promise.all(
    legs.map(async (leg) => {
      const answer = await client.search({
        collection_name: leg.collection,
        anns_field: leg.annsField,
        data: leg.data,
        limit: candidates,
        output_fields: [idField],
        ...(leg.params ? { params: leg.params } : {}),
        ...(leg.filter ? { filter: leg.filter } : {}),
      });
      checkStatus(answer.status, `search ${leg.collection}.${leg.annsField}`);
      const hits = rowsOf(answer.results, 1)[0]!.map((row) => ({
        id: idOf(row, idField),
        score: Number(row.score),
      }));
      return { hits, metric: leg.metric };
    }),
  );
  const hits =
    ranker.type === 'rrf'
      ? rrfFuse(
          lists.map((l) => l.hits.map((h) => h.id)),
          ranker.k ?? DEFAULT_RRF_K,
          limit,
        )
      : weightedFuse(lists, ranker.weights, limit);
  return { hits, fusion: 'client', ranker: ranker.type, reason };
}

export interface MultiVectorSearchOptions {
  /** Query token vectors, one per query token. */
  query: number[][];
  /** Chunks returned. */
  limit: number;
  /** Prefix of the collections. @default '' */
  prefix?: string;
  /** The collections' token metric (milvusCollectionSpecs' tokenMetric). @default 'cosine' */
  metric?: MultiVectorMetric;
  /** Token rows: nearest rows fetched per query token. @default 32 */
  candidatesPerToken?: number;
  /** Token rows: most chunks scored exactly. @default 100 */
  maxCandidates?: number;
  /** Token rows: most tokens one chunk holds (sizes the fetch batches). @default 512 */
  maxTokensPerChunk?: number;
  /** Filter on the token rows / native rows, e.g. `document_id == "…"`. */
  filter?: string;
  /** What the server can do; detected (`structArrayVectors`) when absent. */
  capabilities?: MilvusCapabilities;
}

export interface MultiVectorSearchResult {
  /** Chunk ids with their max-sim score, best first. */
  hits: ScoredId[];
  /**
   * `native`: the server's embedding-list search (MAX_SIM index on rag_chunks_multivector); `token-rows`: nearest
   * token rows of rag_chunk_tokens, then exact max-sim of every candidate chunk here.
   */
  mode: 'native' | 'token-rows';
  /** Chunks scored exactly (token-rows), or returned by the server (native). */
  candidates: number;
}

/** Milvus's bound on limit (+ offset) of one query. */
const QUERY_WINDOW = 16_384;

/** Late-interaction search over the multi-vector collection the server has (native type, else token rows). */
export async function multiVectorSearch(
  client: MilvusClient,
  options: MultiVectorSearchOptions,
): Promise<MultiVectorSearchResult> {
  const prefix = options.prefix ?? '';
  const metric = options.metric ?? 'cosine';
  if (options.query.length === 0) throw new RangeError('multiVectorSearch: the query has no token vectors');
  const caps =
    options.capabilities?.features.structArrayVectors !== undefined
      ? options.capabilities
      : await detectMilvusCapabilities(client, { features: ['structArrayVectors'], prefix });

  if (supports(caps, 'structArrayVectors')) {
    const collection = prefix + MILVUS_COLLECTIONS.multiVector;
    const answer = await client.search({
      collection_name: collection,
      anns_field: `${MILVUS_FIELDS.tokens}[${MILVUS_FIELDS.tokenEmbedding}]`,
      data: options.query,
      limit: options.limit,
      output_fields: [MILVUS_FIELDS.chunkId],
      ...(options.filter ? { filter: options.filter } : {}),
    });
    checkStatus(answer.status, `search ${collection} (embedding list)`);
    const hits = rowsOf(answer.results, 1)[0]!.map((row) => ({
      id: idOf(row, MILVUS_FIELDS.chunkId),
      score: Number(row.score),
    }));
    return { hits, mode: 'native', candidates: hits.length };
  }

  const collection = prefix + MILVUS_COLLECTIONS.tokens;
  const answer = await client.search({
    collection_name: collection,
    anns_field: MILVUS_FIELDS.tokenEmbedding,
    data: options.query,
    limit: options.candidatesPerToken ?? 32,
    output_fields: [MILVUS_FIELDS.chunkId],
    ...(options.filter ? { filter: options.filter } : {}),
  });
  checkStatus(answer.status, `search ${collection}`);
  const perToken = rowsOf(answer.results, options.query.length).map((rows) =>
    rows.map((row) => ({ chunkId: String(row[MILVUS_FIELDS.chunkId]), score: Number(row.score) })),
  );
  const chunkIds = candidateChunks(perToken, metric, options.maxCandidates ?? 100);

  const tokens = new Map<string, number[][]>();
  const batch = Math.max(1, Math.floor(QUERY_WINDOW / (options.maxTokensPerChunk ?? 512)));
  for (let i = 0; i < chunkIds.length; i += batch) {
    const ids = chunkIds.slice(i, i + batch);
    const rows = await client.query({
      collection_name: collection,
      filter: `${MILVUS_FIELDS.chunkId} in [${ids.map((id) => JSON.stringify(id)).join(', ')}]`,
      output_fields: [MILVUS_FIELDS.chunkId, MILVUS_FIELDS.tokenEmbedding],
      limit: QUERY_WINDOW,
    });
    checkStatus(rows.status, `query ${collection}`);
    if (rows.data.length >= QUERY_WINDOW)
      throw new MilvusCallError(
        `milvus: ${collection}: ${ids.length} chunks returned ${QUERY_WINDOW} token rows or more; set maxTokensPerChunk to the most tokens one chunk holds`,
      );
    for (const row of rows.data) {
      const id = String(row[MILVUS_FIELDS.chunkId]);
      const list = tokens.get(id) ?? [];
      list.push(row[MILVUS_FIELDS.tokenEmbedding] as number[]);
      tokens.set(id, list);
    }
  }
  return {
    hits: rankByMaxSim(options.query, tokens, metric, options.limit),
    mode: 'token-rows',
    candidates: chunkIds.length,
  };
}

/** A chunk's token vectors as rows of rag_chunk_tokens (primary key `${chunk_id}:${position}`). */
export function tokenRows(
  chunk: { chunkId: string; documentId: string },
  vectors: number[][],
): Record<string, string | number | number[]>[] {
  return vectors.map((embedding, position) => ({
    [MILVUS_FIELDS.tokenId]: tokenRowId(chunk.chunkId, position),
    [MILVUS_FIELDS.chunkId]: chunk.chunkId,
    [MILVUS_FIELDS.tokenPosition]: position,
    [MILVUS_FIELDS.tokenEmbedding]: embedding,
    document_id: chunk.documentId,
  }));
}

/** A chunk's token vectors as one row of rag_chunks_multivector (the native embedding list). */
export function nativeMultiVectorRow(
  { chunkId, ...scalars }: { chunkId: string } & Record<string, string | number>,
  vectors: number[][],
): Record<string, unknown> {
  return {
    [MILVUS_FIELDS.chunkId]: chunkId,
    ...scalars,
    [MILVUS_FIELDS.tokens]: vectors.map((v) => ({ [MILVUS_FIELDS.tokenEmbedding]: v })),
  };
}
