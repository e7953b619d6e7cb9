-- Cross-store consistency: deleting chunks (directly, or through their document's ON DELETE CASCADE) records in the
-- same transaction which Milvus vectors must go. A rolled-back delete records nothing. A drain
-- (lib/ops/consistency/outbox.ts, run by `npm run consistency -- --repair`) deletes each entry's chunk id from every
-- Milvus collection of the data model and marks the entry done. TRUNCATE records nothing: the checker reports those
-- vectors as vectors without a chunk, and --repair deletes them.
CREATE TABLE vector_outbox (
  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  -- The deleted chunk's id: the primary key of its rows in rag_chunks, rag_chunks_sparse, rag_chunks_bm25 and
  -- rag_chunks_multivector, and the chunk_id of its rows in rag_chunk_tokens.
  chunk_id    uuid NOT NULL,
  document_id uuid,
  created_at  timestamptz NOT NULL DEFAULT now(),
  -- Set once, by the drain that held the entry's row lock (FOR UPDATE SKIP LOCKED), after its Milvus deletes.
  done_at     timestamptz,
  -- The collections that drain deleted from (the data model's collections present in Milvus then).
  applied_to  text[],
  -- Which drain applied it (host:pid or a name the caller gives).
  drained_by  text,
  CONSTRAINT vector_outbox_done_check CHECK ((done_at IS NULL) = (drained_by IS NULL))
);
CREATE INDEX vector_outbox_pending_idx ON vector_outbox (id) WHERE done_at IS NULL;
CREATE INDEX vector_outbox_pending_chunk_idx ON vector_outbox (chunk_id) WHERE done_at IS NULL;

-- One INSERT per DELETE statement (a cascade from documents runs one per document), from the statement's transition
-- table. search_path is fixed when the function is created (this schema, then public), so the deleting session's own
-- search_path does not matter. It runs with the deleting role's rights: the application role has INSERT on every table
-- of the schema (bootstrap grants it).
CREATE FUNCTION record_vector_deletes() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
  INSERT INTO vector_outbox (chunk_id, document_id) SELECT id, document_id FROM deleted_chunks;
  RETURN NULL;
END;
$$;
CREATE TRIGGER document_chunks_record_vector_deletes AFTER DELETE ON document_chunks
  REFERENCING OLD TABLE AS deleted_chunks FOR EACH STATEMENT EXECUTE FUNCTION record_vector_deletes();
