-- Documents and where they come from. Runs in one transaction with search_path set to the target schema.
CREATE EXTENSION IF NOT EXISTS vector WITH SCHEMA public;

-- Keeps updated_at honest whichever client writes the row.
CREATE FUNCTION set_updated_at() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.updated_at := now();
  RETURN NEW;
END;
$$;

CREATE TABLE sources (
  id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  source_type text NOT NULL CHECK (source_type ~ '^[a-z][a-z0-9_]{0,63}$'),
  name        text NOT NULL,
  uri         text,
  config      jsonb NOT NULL DEFAULT '{}'::jsonb,
  enabled     boolean NOT NULL DEFAULT true,
  last_synced_at timestamptz,
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now(),
  UNIQUE (source_type, name)
);
CREATE TRIGGER sources_set_updated_at BEFORE UPDATE ON sources
  FOR EACH ROW EXECUTE FUNCTION set_updated_at();

CREATE TABLE documents (
  id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  source_ref        uuid REFERENCES sources (id) ON DELETE SET NULL,
  source_type       text NOT NULL CHECK (source_type ~ '^[a-z][a-z0-9_]{0,63}$'),
  -- The document's id in its source system (file path, URL, ticket number, ...).
  source_id         text NOT NULL CHECK (length(source_id) BETWEEN 1 AND 2048),
  title             text,
  language          text NOT NULL DEFAULT 'en' CHECK (language ~ '^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$'),
  category          text,
  tags              text[] NOT NULL DEFAULT '{}',
  content_hash      text,
  char_count        integer NOT NULL DEFAULT 0 CHECK (char_count >= 0),
  token_count       integer NOT NULL DEFAULT 0 CHECK (token_count >= 0),
  chunk_count       integer NOT NULL DEFAULT 0 CHECK (chunk_count >= 0),
  processing_status text NOT NULL DEFAULT 'pending'
    CHECK (processing_status IN ('pending', 'processing', 'processed', 'failed')),
  indexing_status   text NOT NULL DEFAULT 'pending'
    CHECK (indexing_status IN ('pending', 'indexing', 'indexed', 'failed', 'stale')),
  error_message     text,
  metadata          jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_at        timestamptz NOT NULL DEFAULT now(),
  updated_at        timestamptz NOT NULL DEFAULT now(),
  UNIQUE (source_type, source_id)
);
CREATE INDEX documents_tags_gin_idx ON documents USING gin (tags);
CREATE INDEX documents_title_fts_idx ON documents USING gin (to_tsvector('simple', coalesce(title, '')));
CREATE INDEX documents_status_idx ON documents (processing_status, indexing_status);
CREATE TRIGGER documents_set_updated_at BEFORE UPDATE ON documents
  FOR EACH ROW EXECUTE FUNCTION set_updated_at();
