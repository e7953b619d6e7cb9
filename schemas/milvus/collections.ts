// Milvus collection specs, as code so dimension, metric and HNSW parameters come from the configuration.
// The reference data model keeps chunks in PostgreSQL and, keyed by chunk id, one Milvus collection per retrieval
// kind: dense (rag_chunks), application-fed sparse (rag_chunks_sparse), server-side BM25 (rag_chunks_bm25) and
// multi-vector (rag_chunks_multivector where the server has the native type, else rag_chunk_tokens).
import type { VectorstackConfig } from '../../lib/config/schema.js';
import type { MilvusFeature } from '../../lib/milvus/capabilities.js';

export type MilvusFieldType =
  | 'VarChar'
  | 'Int32'
  | 'Int64'
  | 'FloatVector'
  | 'SparseFloatVector'
  /** An Array of Struct (Milvus ≥ 2.6.4); `structFields` describe one element. */
  | 'ArrayOfStruct';

export interface MilvusFieldSpec {
  name: string;
  type: MilvusFieldType;
  primaryKey?: boolean;
  /** VarChar only. */
  maxLength?: number;
  /** FloatVector only. */
  dim?: number;
  /** VarChar only: tokenized by the server's analyzer (input of a BM25 function). @default false */
  analyzer?: boolean;
  /** Filled by a server-side function (a BM25 output); the application never writes it. @default false */
  functionOutput?: boolean;
  /** ArrayOfStruct only: the fields of one element. */
  structFields?: MilvusFieldSpec[];
  /** ArrayOfStruct only: the most elements one row may hold. */
  maxCapacity?: number;
}

export interface MilvusIndexSpec {
  /** A field name, or `array[subfield]` for a vector inside an Array of Struct. */
  field: string;
  /** Empty string: the server's default scalar index (Trie / STL_SORT on 2.3, INVERTED later). */
  indexType: string;
  metric?: string;
  params?: Record<string, number>;
}

/** A server-side function; only BM25 (analyzed VARCHAR → sparse vector) is used. */
export interface MilvusFunctionSpec {
  name: string;
  type: 'BM25';
  input: string;
  output: string;
}

/** Server features a collection may need; detected by asking the server (lib/milvus/capabilities.ts). */
export type MilvusCapability = MilvusFeature;

export interface MilvusCollectionSpec {
  /** Name without the run's prefix. */
  name: string;
  description: string;
  fields: MilvusFieldSpec[];
  indexes: MilvusIndexSpec[];
  /** @default [] */
  functions?: MilvusFunctionSpec[];
  requires: MilvusCapability[];
  /** Skipped with a warning when the server lacks a required capability; a non-optional spec fails instead. */
  optional: boolean;
  /**
   * This spec stands in for another that needs `feature`: it is planned only where the server lacks it (token rows
   * where there is no native multi-vector type), and skipped, without a warning, where the server has it.
   */
  insteadOf?: { feature: MilvusCapability; collection: string };
}

/** Collection names of the reference data model (without a prefix). */
export const MILVUS_COLLECTIONS = {
  dense: 'rag_chunks',
  sparse: 'rag_chunks_sparse',
  bm25: 'rag_chunks_bm25',
  multiVector: 'rag_chunks_multivector',
  tokens: 'rag_chunk_tokens',
} as const;

/** Field names the search library and the ingestion code share with the specs. */
export const MILVUS_FIELDS = {
  chunkId: 'chunk_id',
  dense: 'embedding',
  sparse: 'sparse_embedding',
  text: 'text',
  bm25: 'bm25_sparse',
  /** Array of Struct of the native multi-vector collection, and its vector sub-field. */
  tokens: 'tokens',
  tokenEmbedding: 'embedding',
  tokenId: 'token_id',
  tokenPosition: 'token_position',
} as const;

export type MultiVectorMetric = 'cosine' | 'ip' | 'l2';

export interface MilvusSpecOptions {
  /** Dimension of the multi-vector (ColBERT-style) token vectors. @default 128 (ColBERTv2) */
  tokenDimension?: number;
  /** Similarity of token vectors; max-sim sums, per query token, its best similarity in the chunk. @default 'cosine' */
  tokenMetric?: MultiVectorMetric;
  /** Most token vectors one chunk may hold in the native multi-vector collection. @default 512 */
  maxTokensPerChunk?: number;
}

const METRICS = { cosine: 'COSINE', ip: 'IP', l2: 'L2' } as const;
const MAX_SIM_METRICS = { cosine: 'MAX_SIM_COSINE', ip: 'MAX_SIM_IP', l2: 'MAX_SIM_L2' } as const;

/** VARCHAR length of ids: a PostgreSQL uuid is 36 characters; 64 leaves room for prefixed external ids. */
const ID_LENGTH = 64;
/** VARCHAR length of chunk text in the BM25 collection (Milvus's maximum is 65,535 bytes). */
export const CHUNK_TEXT_LENGTH = 65_535;

/** The primary key of one token row: `${chunk_id}:${position}`. */
export function tokenRowId(chunkId: string, position: number): string {
  return `${chunkId}:${position}`;
}

const scalarFields = (): MilvusFieldSpec[] => [
  { name: 'document_id', type: 'VarChar', maxLength: ID_LENGTH },
  { name: 'source_type', type: 'VarChar', maxLength: 64 },
  { name: 'language', type: 'VarChar', maxLength: 16 },
  { name: 'chunk_position', type: 'Int32' },
  { name: 'created_timestamp', type: 'Int64' },
];

const scalarIndexes = (): MilvusIndexSpec[] =>
  ['document_id', 'source_type', 'language'].map((field) => ({ field, indexType: '' }));

const chunkIdField = (): MilvusFieldSpec => ({
  name: MILVUS_FIELDS.chunkId,
  type: 'VarChar',
  primaryKey: true,
  maxLength: ID_LENGTH,
});

export function milvusCollectionSpecs(
  config: VectorstackConfig,
  options: MilvusSpecOptions = {},
): MilvusCollectionSpec[] {
  const tokenDimension = options.tokenDimension ?? 128;
  const tokenMetric = options.tokenMetric ?? 'cosine';
  const hnsw = { M: config.milvus.hnsw.m, efConstruction: config.milvus.hnsw.efConstruction };
  return [
    {
      name: MILVUS_COLLECTIONS.dense,
      description: 'Dense chunk embeddings; chunk_id is the PostgreSQL document_chunks.id',
      fields: [
        chunkIdField(),
        { name: MILVUS_FIELDS.dense, type: 'FloatVector', dim: config.embedding.dimension },
        ...scalarFields(),
      ],
      indexes: [
        {
          field: MILVUS_FIELDS.dense,
          indexType: 'HNSW',
          metric: METRICS[config.embedding.metric],
          params: hnsw,
        },
        ...scalarIndexes(),
      ],
      requires: [],
      optional: false,
    },
    {
      name: MILVUS_COLLECTIONS.sparse,
      description:
        'Sparse lexical chunk vectors computed by the application (e.g. SPLADE), for hybrid search',
      fields: [chunkIdField(), { name: MILVUS_FIELDS.sparse, type: 'SparseFloatVector' }, ...scalarFields()],
      indexes: [
        // No drop_ratio_build: 2.6 documents only inverted_index_algo for this index, and the default keeps every term.
        { field: MILVUS_FIELDS.sparse, indexType: 'SPARSE_INVERTED_INDEX', metric: 'IP' },
        ...scalarIndexes(),
      ],
      requires: ['sparseVectors'],
      optional: true,
    },
    {
      name: MILVUS_COLLECTIONS.bm25,
      description:
        'Chunk text with a server-side BM25 function (full-text search); chunk_id as in rag_chunks',
      fields: [
        chunkIdField(),
        { name: MILVUS_FIELDS.text, type: 'VarChar', maxLength: CHUNK_TEXT_LENGTH, analyzer: true },
        { name: MILVUS_FIELDS.bm25, type: 'SparseFloatVector', functionOutput: true },
        ...scalarFields(),
      ],
      functions: [{ name: 'bm25', type: 'BM25', input: MILVUS_FIELDS.text, output: MILVUS_FIELDS.bm25 }],
      indexes: [
        { field: MILVUS_FIELDS.bm25, indexType: 'SPARSE_INVERTED_INDEX', metric: 'BM25' },
        ...scalarIndexes(),
      ],
      requires: ['bm25Function'],
      optional: true,
    },
    {
      name: MILVUS_COLLECTIONS.multiVector,
      description:
        'Multi-vector (ColBERT-style) token embeddings per chunk, native embedding list with MAX_SIM',
      fields: [
        chunkIdField(),
        {
          name: MILVUS_FIELDS.tokens,
          type: 'ArrayOfStruct',
          maxCapacity: options.maxTokensPerChunk ?? 512,
          structFields: [{ name: MILVUS_FIELDS.tokenEmbedding, type: 'FloatVector', dim: tokenDimension }],
        },
        ...scalarFields(),
      ],
      indexes: [
        {
          field: `${MILVUS_FIELDS.tokens}[${MILVUS_FIELDS.tokenEmbedding}]`,
          indexType: 'HNSW',
          metric: MAX_SIM_METRICS[tokenMetric],
          params: hnsw,
        },
        ...scalarIndexes(),
      ],
      requires: ['structArrayVectors'],
      optional: true,
    },
    {
      name: MILVUS_COLLECTIONS.tokens,
      description:
        'Multi-vector (ColBERT-style) token embeddings, one row per token (token_id = chunk_id:position); max-sim is computed by the client',
      fields: [
        { name: MILVUS_FIELDS.tokenId, type: 'VarChar', primaryKey: true, maxLength: ID_LENGTH + 16 },
        { name: MILVUS_FIELDS.chunkId, type: 'VarChar', maxLength: ID_LENGTH },
        { name: MILVUS_FIELDS.tokenPosition, type: 'Int32' },
        { name: MILVUS_FIELDS.tokenEmbedding, type: 'FloatVector', dim: tokenDimension },
        { name: 'document_id', type: 'VarChar', maxLength: ID_LENGTH },
      ],
      indexes: [
        {
          field: MILVUS_FIELDS.tokenEmbedding,
          indexType: 'HNSW',
          metric: METRICS[tokenMetric],
          params: hnsw,
        },
        { field: MILVUS_FIELDS.chunkId, indexType: '' },
        { field: 'document_id', indexType: '' },
      ],
      requires: [],
      optional: true,
      insteadOf: { feature: 'structArrayVectors', collection: MILVUS_COLLECTIONS.multiVector },
    },
  ];
}
