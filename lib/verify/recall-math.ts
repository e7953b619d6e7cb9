import { VectorstackError } from '../errors.js';
import { type FloatVectors, row } from './vectors.js';

export function squaredL2(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) {
    const d = a[i]! - b[i]!;
    sum += d * d;
  }
  return sum;
}

export interface Neighbour {
  id: number;
  distance: number;
}

/** The `k` nearest base rows to `query` (squared L2, float64), nearest first; equal distances ordered by id. */
export function exactNeighbours(base: FloatVectors, query: ArrayLike<number>, k: number): Neighbour[] {
  const all: Neighbour[] = new Array(base.count);
  for (let i = 0; i < base.count; i++) all[i] = { id: i, distance: squaredL2(row(base, i), query) };
  all.sort((a, b) => a.distance - b.distance || a.id - b.id);
  return all.slice(0, k);
}

export class RecallError extends VectorstackError {}

export interface RecallInput {
  /** Ids a store returned, best first (only the first k count; duplicates count once). */
  retrieved: readonly number[];
  /** Exact neighbour ids, nearest first. */
  truth: ArrayLike<number>;
  k: number;
  /**
   * True distance of a base id to the query. When given, a retrieved id at exactly the k-th true distance counts as a
   * hit even if the list put another, equally distant id at rank k: neighbours tied at the cut-off are
   * interchangeable (the SIFT10K lists contain such ties).
   */
  distanceOf?: (id: number) => number;
}

/** recall@k = |first k retrieved ∩ first k true neighbours| / k, with ties at the k-th distance counted as hits. */
export function recallAtK({ retrieved, truth, k, distanceOf }: RecallInput): number {
  if (!Number.isInteger(k) || k < 1) throw new RecallError(`k must be a positive integer, got ${k}`);
  if (k > truth.length)
    throw new RecallError(`k=${k} exceeds the ground truth depth (${truth.length} neighbours per query)`);
  const expected = new Set<number>();
  for (let i = 0; i < k; i++) expected.add(truth[i]!);
  const kthDistance = distanceOf ? distanceOf(truth[k - 1]!) : undefined;
  const counted = new Set<number>();
  for (const id of retrieved.slice(0, k)) {
    if (counted.has(id)) continue;
    if (expected.has(id) || (kthDistance !== undefined && distanceOf!(id) <= kthDistance)) counted.add(id);
  }
  return Math.min(counted.size, k) / k;
}

/** Mean recall@k over queries; `results[q]` are the ids returned for query q. */
export function meanRecall(
  results: readonly (readonly number[])[],
  truthOf: (query: number) => ArrayLike<number>,
  k: number,
  distanceOf?: (query: number, id: number) => number,
): number {
  if (results.length === 0) throw new RecallError('no query results to score');
  let sum = 0;
  for (let q = 0; q < results.length; q++) {
    sum += recallAtK({
      retrieved: results[q]!,
      truth: truthOf(q),
      k,
      distanceOf: distanceOf && ((id) => distanceOf(q, id)),
    });
  }
  return sum / results.length;
}

/** The middle value (the mean of the two middle ones for an even count): the figure benches report per setting. */
export function median(values: readonly number[]): number {
  if (values.length === 0) throw new RecallError('no values to take the median of');
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Nearest-rank percentile (p in 0..100) of latencies in ms. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) throw new RecallError('no latencies to summarise');
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1]!;
}
