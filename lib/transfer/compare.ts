import { cosine, pairSums } from '../util/vector-math.js';
import type { ChromaSpace, TransferRecord } from './model.js';

/** JSON with object keys sorted at every level: two values are deep-equal (key order ignored) iff these match. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const entries = Object.keys(value as Record<string, unknown>)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`);
  return `{${entries.join(',')}}`;
}

/** Chroma returns no metadata and empty metadata alike for a record without keys; both compare as "none". */
export function normaliseMetadata(metadata: Record<string, unknown> | null | undefined) {
  return metadata && Object.keys(metadata).length > 0 ? metadata : null;
}

/** True when both vectors hold the same float32 bit patterns (so -0 differs from 0 and NaN equals the same NaN). */
export function float32Identical(a: Float32Array, b: Float32Array): boolean {
  if (a.length !== b.length) return false;
  const x = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const y = new Uint32Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}

/** The fields of a target's copy that differ from the source's record (empty when identical). */
export function recordDifferences(source: TransferRecord, copy: TransferRecord | undefined): string[] {
  if (!copy) return ['missing'];
  const fields: string[] = [];
  if (!float32Identical(source.embedding, copy.embedding)) {
    let at = -1;
    for (let i = 0; i < Math.max(source.embedding.length, copy.embedding.length); i++)
      if (Object.is(source.embedding[i], copy.embedding[i]) === false) {
        at = i;
        break;
      }
    fields.push(
      source.embedding.length !== copy.embedding.length
        ? `embedding (dimension ${source.embedding.length} vs ${copy.embedding.length})`
        : `embedding (component ${at}: ${source.embedding[at]} vs ${copy.embedding[at]})`,
    );
  }
  if (source.document !== copy.document) fields.push('document');
  if (canonicalJson(normaliseMetadata(source.metadata)) !== canonicalJson(normaliseMetadata(copy.metadata)))
    fields.push('metadata');
  return fields;
}

/** Chroma's distance in each space, in float64: l2 squared Euclidean, ip 1 - a·b, cosine 1 - cos(a, b). */
export function chromaDistance(space: ChromaSpace, a: ArrayLike<number>, b: ArrayLike<number>): number {
  const sums = pairSums(a, b);
  if (space === 'l2') return sums.l2sq;
  if (space === 'ip') return 1 - sums.dot;
  return sums.aa === 0 || sums.bb === 0 ? 1 : 1 - cosine(sums);
}

export interface AgreementInput {
  /** Ids the source returned, best first. */
  source: readonly string[];
  /** Ids of the target's exact search, best first. */
  exact: readonly string[];
  k: number;
  /** Exact distance of an id to the query (any monotone distance of the space); ties at the k-th count as hits. */
  distanceOf: (id: string) => number | undefined;
}

/**
 * Share of the exact top k that the source also returned: |source ∩ exact| / k, where a source id at or within the
 * exact k-th distance (a tie) counts as a hit too. Relative tolerance 1e-6 absorbs float32 vs float64 arithmetic.
 */
export function topKAgreement({ source, exact, k, distanceOf }: AgreementInput): number {
  const depth = Math.min(k, exact.length);
  if (depth === 0) return source.length === 0 ? 1 : 0;
  const expected = new Set(exact.slice(0, depth));
  const kth = distanceOf(exact[depth - 1]!);
  const tolerance = kth === undefined ? 0 : Math.max(1e-6, Math.abs(kth) * 1e-6);
  let hits = 0;
  const seen = new Set<string>();
  for (const id of source.slice(0, depth)) {
    if (seen.has(id)) continue;
    seen.add(id);
    const d = distanceOf(id);
    if (expected.has(id) || (kth !== undefined && d !== undefined && d <= kth + tolerance)) hits++;
  }
  return hits / depth;
}
