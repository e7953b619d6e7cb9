import { createHash } from 'node:crypto';
import { VectorstackError } from '../errors.js';

/**
 * The data model of imported collections, in one place: what a Chroma record is, where a collection lands in each
 * target, and how Chroma's distance spaces map onto the targets' metrics.
 */

/** One Chroma record as read from the source: embeddings are float32, as Chroma stores them. */
export interface TransferRecord {
  id: string;
  embedding: Float32Array;
  document: string | null;
  metadata: Record<string, unknown> | null;
}

/** Chroma's distance spaces (collection metadata `hnsw:space`, or `configuration.hnsw.space` in 1.x). */
export const CHROMA_SPACES = ['l2', 'ip', 'cosine'] as const;
export type ChromaSpace = (typeof CHROMA_SPACES)[number];

export type TargetName = 'pgvector' | 'milvus';
export const TARGETS: readonly TargetName[] = ['pgvector', 'milvus'];

/** How one Chroma space is searched in each target; every mapping keeps Chroma's ranking exactly. */
export interface MetricMapping {
  space: ChromaSpace;
  /** pgvector operator class of the HNSW index and the distance operator of the exact query. */
  pgOpclass: 'vector_l2_ops' | 'vector_ip_ops' | 'vector_cosine_ops';
  pgOperator: '<->' | '<#>' | '<=>';
  milvusMetric: 'L2' | 'IP' | 'COSINE';
}

export const METRICS: Record<ChromaSpace, MetricMapping> = {
  // Chroma's l2 is the squared Euclidean distance; pgvector's <-> and Milvus's L2 rank identically.
  l2: { space: 'l2', pgOpclass: 'vector_l2_ops', pgOperator: '<->', milvusMetric: 'L2' },
  // Chroma's ip distance is 1 - a·b; pgvector's <#> is -a·b; Milvus IP ranks by a·b, largest first.
  ip: { space: 'ip', pgOpclass: 'vector_ip_ops', pgOperator: '<#>', milvusMetric: 'IP' },
  // 1 - cos(a, b) in all three.
  cosine: { space: 'cosine', pgOpclass: 'vector_cosine_ops', pgOperator: '<=>', milvusMetric: 'COSINE' },
};

export class TransferError extends VectorstackError {}

export function isChromaSpace(value: unknown): value is ChromaSpace {
  return typeof value === 'string' && (CHROMA_SPACES as readonly string[]).includes(value);
}

/** Chroma's space from a collection's metadata and (1.x) configuration; Chroma's default is l2. */
export function chromaSpaceOf(
  collection: string,
  metadata: Record<string, unknown> | null | undefined,
  configuration?: Record<string, unknown> | null,
): ChromaSpace {
  const hnsw = (configuration?.hnsw ?? configuration?.spann) as Record<string, unknown> | undefined | null;
  const value = hnsw?.space ?? metadata?.['hnsw:space'] ?? 'l2';
  if (!isChromaSpace(value))
    throw new TransferError(
      `collection ${collection}: distance space ${JSON.stringify(value)} is not one Chroma defines`,
      {
        problems: [
          `collection ${collection}: hnsw:space = ${JSON.stringify(value)}: allowed values: l2, ip, cosine`,
        ],
      },
    );
  return value;
}

/** Chroma's own collection name rule (3-63 characters of [a-zA-Z0-9._-], alphanumeric at both ends, no `..`). */
export function checkChromaName(name: string): string | undefined {
  if (name.length < 3 || name.length > 63)
    return `${JSON.stringify(name)} has ${name.length} characters (3-63 allowed)`;
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*[A-Za-z0-9]$/.test(name))
    return `${JSON.stringify(name)}: only ASCII letters, digits, '.', '_' and '-', starting and ending with a letter or digit`;
  if (name.includes('..')) return `${JSON.stringify(name)} contains '..'`;
  return undefined;
}

/**
 * The identifier an imported collection gets in both targets: the Chroma name when it is already a plain identifier
 * (letters, digits, `_`), else the name with every other character turned into `_` plus 8 hex digits of its
 * SHA-256, so `a-b` and `a_b` never collide. Lowercase is not forced: Milvus names are case-sensitive and the
 * PostgreSQL table name is always quoted.
 */
export function targetIdentifier(chromaName: string): string {
  if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(chromaName)) return chromaName;
  const plain = chromaName.replace(/[^A-Za-z0-9_]/g, '_');
  const suffix = createHash('sha256').update(chromaName).digest('hex').slice(0, 8);
  return `${/^[A-Za-z_]/.test(plain) ? '' : 'c_'}${plain}_${suffix}`;
}

/** PostgreSQL home of imported collections: one table per collection in this schema, plus the catalog table. */
export const PG_SCHEMA = 'imported';
export const PG_CATALOG = 'chroma_collections';
/** Milvus home: one collection per Chroma collection, named with this prefix. */
export const MILVUS_PREFIX = 'chroma_';

export function pgTable(chromaName: string): string {
  return targetIdentifier(chromaName);
}

export function milvusCollection(chromaName: string): string {
  return `${MILVUS_PREFIX}${targetIdentifier(chromaName)}`;
}

/** Where a collection lands, for messages: `pgvector imported."docs"`, `milvus chroma_docs`. */
export function targetLabel(target: TargetName, chromaName: string): string {
  return target === 'pgvector'
    ? `pgvector ${PG_SCHEMA}."${pgTable(chromaName)}"`
    : `milvus ${milvusCollection(chromaName)}`;
}
