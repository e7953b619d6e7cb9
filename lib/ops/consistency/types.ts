// What the consistency checker reports, and its error. The reference data model keeps chunks in PostgreSQL
// (document_chunks) and their vectors in Milvus collections keyed by chunk id; these types describe how the two differ.
import { type ErrorDetails, EXIT, VectorstackError } from '../../errors.js';

/** PostgreSQL tables the checker reads (in the data model's schema). */
export const TABLES = {
  documents: 'documents',
  chunks: 'document_chunks',
  outbox: 'vector_outbox',
} as const;

/** The embedding_status a repair gives an embedded chunk whose vector is missing: the embedder picks it up again. */
export const REEMBED_STATUS = 'pending';

/** A check that could not be made (unreachable store, missing table, configuration unlike the live stores): exit 1. */
export class ConsistencyError extends VectorstackError {
  constructor(headline: string, details: ErrorDetails = {}) {
    super(headline, { exitCode: EXIT.error, ...details });
  }
}

/** How many of one kind of inconsistency were found, repaired, and a few of their ids. */
export interface Finding {
  found: number;
  /** Fixed by this run (with --repair); 0 otherwise. */
  repaired: number;
  /** The first ids found (at most sampleSize), in id order. */
  sample: string[];
}

/** One Milvus collection of the data model, compared with the chunks by id. */
export interface CollectionReport {
  /** Name on the server (with the prefix). */
  collection: string;
  /** `primary-key`: the chunk id is the primary key; `token-rows`: one row per token vector, chunk_id a field. */
  keyedBy: 'primary-key' | 'token-rows';
  /** Every embedded chunk must have a vector here (the dense collection, and any given with --require). */
  required: boolean;
  /** Distinct chunk ids holding vectors in the collection when it was read. */
  vectors: number;
  /** Vectors whose chunk is not in PostgreSQL (and not awaiting an outbox drain). */
  vectorsWithoutChunk: Finding;
  /** Chunks with embedding_status 'embedded' and no vector here (required collections only). */
  embeddedWithoutVector: Finding;
  /** Vectors of deleted chunks whose outbox entry is still pending (counted under the outbox, not as orphans). */
  awaitingDrain: number;
}

export interface OutboxReport {
  /** Entries not yet applied when the run started. */
  pendingBefore: number;
  /** Entries this run applied (--repair). */
  drained: number;
  /** Entries still pending when the run ended. */
  pendingAfter: number;
  /** Milvus collections the drain deleted from. */
  appliedTo: string[];
}

export interface ConsistencyReport {
  mode: 'check' | 'repair';
  environment: string;
  schema: string;
  prefix: string;
  /** 0 consistent (or everything found was repaired), 2 inconsistencies remain. Failures throw (exit 1). */
  exitCode: number;
  chunks: { total: number; embedded: number };
  /** Chunks whose document is gone (possible only when the foreign key was bypassed): reported, never repaired. */
  orphanedChunks: Finding;
  outbox: OutboxReport;
  collections: CollectionReport[];
  stats: {
    seconds: number;
    /** Peak resident memory of this process, MB. */
    maxRssMb: number;
    /** Resident memory when the check began (modules loaded, stack opened), MB: what the process holds without it. */
    startRssMb: number;
    /** Rows read from PostgreSQL and ids read from Milvus by the comparison. */
    postgresRows: number;
    milvusIds: number;
  };
}
