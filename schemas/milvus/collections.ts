// Milvus collection specs, as code so dimension, metric and HNSW parameters come from the configuration.
import type { VectorstackConfig } from '../../lib/config/schema.js';

export type MilvusFieldType = 'VarChar' | 'Int32' | 'Int64' | 'FloatVector' | 'SparseFloatVector';

export interface MilvusFieldSpec {
  name: string;
  type: MilvusFieldType;
  primaryKey?: boolean;
  /** VarChar only. */
  maxLength?: number;
  /** FloatVector only. */
  dim?: number;
}

export interface MilvusIndexSpec {
  field: string;
  /** Empty string: the server's default scalar index (Trie / STL_SORT on 2.3, INVERTED later). */
  indexType: string;
  metric?: string;
  params?: Record<string, number>;
}

/** Server features a collection may need; checked against the connected server's version. */
export type MilvusCapability = 'sparseVectors';

export interface MilvusCollectionSpec {
  /** Name without the run's prefix. */
  name: string;
  description: string;
  fields: MilvusFieldSpec[];
  indexes: MilvusIndexSpec[];
  requires: MilvusCapability[];
  /** Skipped with a warning when the server lacks a required capability; a non-optional spec fails instead. */
  optional: boolean;
}

const METRICS = { cosine: 'COSINE', ip: 'IP', l2: 'L2' } as const;

/** VARCHAR length of ids: a PostgreSQL uuid is 36 characters; 64 leaves room for prefixed external ids. */
const ID_LENGTH = 64;

const scalarFields = (): MilvusFieldSpec[] => [
  { name: 'document_id', type: 'VarChar', maxLength: ID_LENGTH },
  { name: 'source_type', type: 'VarChar', maxLength: 64 },
  { name: 'language', type: 'VarChar', maxLength: 16 },
  { name: 'chunk_position', type: 'Int32' },
  { name: 'created_timestamp', type: 'Int64' },
];

const scalarIndexes = (): MilvusIndexSpec[] =>
  ['document_id', 'source_type', 'language'].map((field) => ({ field, indexType: '' }));

export function milvusCollectionSpecs(config: VectorstackConfig): MilvusCollectionSpec[] {
  return [
    {
      name: 'rag_chunks',
      description: 'Dense chunk embeddings; chunk_id is the PostgreSQL document_chunks.id',
      fields: [
        { name: 'chunk_id', type: 'VarChar', primaryKey: true, maxLength: ID_LENGTH },
        { name: 'embedding', type: 'FloatVector', dim: config.embedding.dimension },
        ...scalarFields(),
      ],
      indexes: [
        {
          field: 'embedding',
          indexType: 'HNSW',
          metric: METRICS[config.embedding.metric],
          params: { M: config.milvus.hnsw.m, efConstruction: config.milvus.hnsw.efConstruction },
        },
        ...scalarIndexes(),
      ],
      requires: [],
      optional: false,
    },
    {
      name: 'rag_chunks_sparse',
      description: 'Sparse (lexical, e.g. BM25/SPLADE) chunk vectors for hybrid search',
      fields: [
        { name: 'chunk_id', type: 'VarChar', primaryKey: true, maxLength: ID_LENGTH },
        { name: 'sparse_embedding', type: 'SparseFloatVector' },
        ...scalarFields(),
      ],
      indexes: [
        {
          field: 'sparse_embedding',
          indexType: 'SPARSE_INVERTED_INDEX',
          metric: 'IP',
          params: { drop_ratio_build: 0.2 },
        },
        ...scalarIndexes(),
      ],
      requires: ['sparseVectors'],
      optional: true,
    },
  ];
}
