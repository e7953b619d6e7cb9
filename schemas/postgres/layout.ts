// The PostgreSQL layout the migrations in this directory produce, described once: bootstrap compares the live database
// with it (drift), the smoke suite checks it and runs its round trip through it. Change it together with a migration.
import type { VectorMetric, VectorstackConfig } from '../../lib/config/schema.js';

/** Bootstrap's bookkeeping table, in the same schema as the tables it describes: owned by the owner role only. */
export const MIGRATIONS_TABLE = 'schema_migrations';

/** pgvector operator class per metric: how the HNSW index is built for the configured metric. */
export const VECTOR_OPCLASS: Record<VectorMetric, string> = {
  cosine: 'vector_cosine_ops',
  l2: 'vector_l2_ops',
  ip: 'vector_ip_ops',
};

/** pgvector distance operator per metric: what a kNN query orders by to use that index. */
export const DISTANCE_OPERATOR: Record<VectorMetric, string> = { l2: '<->', cosine: '<=>', ip: '<#>' };

/** A column as `format_type()` prints its type. */
export type ColumnType = string;

export interface VectorIndexLayout {
  name: string;
  table: string;
  column: string;
  method: 'hnsw' | 'ivfflat';
  opclass: string;
  /** Storage parameters as pg_class.reloptions lists them. */
  options: Record<string, string>;
}

export interface PostgresLayout {
  /** Table → column → type. Columns a user adds are not drift; missing or retyped ones are. */
  tables: Record<string, Record<string, ColumnType>>;
  vectorIndexes: VectorIndexLayout[];
}

const timestamps = { created_at: 'timestamp with time zone', updated_at: 'timestamp with time zone' };

/** The layout for a configuration: the embedding column's dimension and the index's metric come from it. */
export function postgresLayout(config: VectorstackConfig): PostgresLayout {
  return {
    tables: {
      sources: {
        id: 'uuid',
        source_type: 'text',
        name: 'text',
        uri: 'text',
        config: 'jsonb',
        enabled: 'boolean',
        last_synced_at: 'timestamp with time zone',
        ...timestamps,
      },
      documents: {
        id: 'uuid',
        source_ref: 'uuid',
        source_type: 'text',
        source_id: 'text',
        title: 'text',
        language: 'text',
        category: 'text',
        tags: 'text[]',
        content_hash: 'text',
        char_count: 'integer',
        token_count: 'integer',
        chunk_count: 'integer',
        processing_status: 'text',
        indexing_status: 'text',
        error_message: 'text',
        metadata: 'jsonb',
        ...timestamps,
      },
      document_chunks: {
        id: 'uuid',
        document_id: 'uuid',
        position: 'integer',
        section_title: 'text',
        hierarchy_level: 'smallint',
        parent_chunk_id: 'uuid',
        content: 'text',
        content_tsv: 'tsvector',
        token_count: 'integer',
        char_count: 'integer',
        milvus_vector_id: 'text',
        embedding_status: 'text',
        metadata: 'jsonb',
        ...timestamps,
      },
      chunk_embeddings: {
        chunk_id: 'uuid',
        model: 'text',
        embedding: `vector(${config.embedding.dimension})`,
        ...timestamps,
      },
      users: {
        id: 'uuid',
        email: 'text',
        display_name: 'text',
        role: 'text',
        disabled: 'boolean',
        ...timestamps,
      },
      api_keys: {
        id: 'uuid',
        user_id: 'uuid',
        name: 'text',
        key_prefix: 'text',
        key_hash: 'text',
        scopes: 'text[]',
        expires_at: 'timestamp with time zone',
        last_used_at: 'timestamp with time zone',
        revoked_at: 'timestamp with time zone',
        ...timestamps,
      },
      vector_outbox: {
        id: 'bigint',
        chunk_id: 'uuid',
        document_id: 'uuid',
        created_at: 'timestamp with time zone',
        done_at: 'timestamp with time zone',
        applied_to: 'text[]',
        drained_by: 'text',
      },
    },
    vectorIndexes: [
      {
        name: 'chunk_embeddings_embedding_hnsw_idx',
        table: 'chunk_embeddings',
        column: 'embedding',
        method: 'hnsw',
        opclass: VECTOR_OPCLASS[config.embedding.metric],
        options: {
          m: String(config.postgres.hnsw.m),
          ef_construction: String(config.postgres.hnsw.efConstruction),
        },
      },
    ],
  };
}

/**
 * A write and read through the layout, as an application does it: a document, one chunk, its embedding, then a kNN
 * query by the configured metric. `$1` is a unique token, `$2` the vector literal. The caller runs it in a
 * transaction it rolls back.
 */
export function roundTripStatements(schema: string, metric: VectorMetric) {
  const q = (table: string) => `${schema}.${table}`;
  return {
    document: `INSERT INTO ${q('documents')} (source_type, source_id, title) VALUES ('smoke_test', $1, 'smoke test') RETURNING id`,
    chunk: `INSERT INTO ${q('document_chunks')} (document_id, position, content) VALUES ($1, 0, 'smoke test chunk') RETURNING id`,
    embedding: `INSERT INTO ${q('chunk_embeddings')} (chunk_id, model, embedding) VALUES ($1, 'smoke-test', $2::vector)`,
    knn: `SELECT chunk_id::text AS id FROM ${q('chunk_embeddings')} ORDER BY embedding ${DISTANCE_OPERATOR[metric]} $1::vector LIMIT 5`,
  };
}
