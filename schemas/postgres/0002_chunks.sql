-- Chunks and their embeddings. Placeholders ({{dimension}}, {{vector_opclass}}, {{hnsw_m}},
-- {{hnsw_ef_construction}}) are filled from the configuration; the recorded checksum is of this template.
CREATE TABLE document_chunks (
  id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  document_id      uuid NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
  position         integer NOT NULL CHECK (position >= 0),
  section_title    text,
  hierarchy_level  smallint NOT NULL DEFAULT 0 CHECK (hierarchy_level BETWEEN 0 AND 16),
  parent_chunk_id  uuid REFERENCES document_chunks (id) ON DELETE SET NULL,
  content          text NOT NULL,
  -- 'simple' config: no stemming, so it is correct for every language; callers stem per language if they need to.
  content_tsv      tsvector GENERATED ALWAYS AS (to_tsvector('simple', content)) STORED,
  token_count      integer NOT NULL DEFAULT 0 CHECK (token_count >= 0),
  char_count       integer NOT NULL DEFAULT 0 CHECK (char_count >= 0),
  -- Primary key of the chunk's row in Milvus: the same text as id, so either store can be joined to the other.
  milvus_vector_id text,
  embedding_status text NOT NULL DEFAULT 'pending'
    CHECK (embedding_status IN ('pending', 'embedding', 'embedded', 'failed', 'stale')),
  metadata         jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now(),
  UNIQUE (document_id, position)
);
CREATE INDEX document_chunks_content_fts_idx ON document_chunks USING gin (content_tsv);
CREATE INDEX document_chunks_parent_idx ON document_chunks (parent_chunk_id) WHERE parent_chunk_id IS NOT NULL;
CREATE INDEX document_chunks_embedding_status_idx ON document_chunks (embedding_status)
  WHERE embedding_status <> 'embedded';
CREATE TRIGGER document_chunks_set_updated_at BEFORE UPDATE ON document_chunks
  FOR EACH ROW EXECUTE FUNCTION set_updated_at();

-- One embedding per chunk, kept apart from the chunk row so text scans never read the wide vector.
CREATE TABLE chunk_embeddings (
  chunk_id   uuid PRIMARY KEY REFERENCES document_chunks (id) ON DELETE CASCADE,
  model      text NOT NULL,
  embedding  vector({{dimension}}) NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX chunk_embeddings_embedding_hnsw_idx ON chunk_embeddings
  USING hnsw (embedding {{vector_opclass}}) WITH (m = {{hnsw_m}}, ef_construction = {{hnsw_ef_construction}});
CREATE TRIGGER chunk_embeddings_set_updated_at BEFORE UPDATE ON chunk_embeddings
  FOR EACH ROW EXECUTE FUNCTION set_updated_at();
