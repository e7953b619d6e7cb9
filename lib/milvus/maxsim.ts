// Late-interaction (ColBERT-style) scoring: a chunk's score for a query is the sum, over the query's token vectors,
// of each one's best similarity among the chunk's token vectors ("max-sim"). Pure functions.
import type { MultiVectorMetric } from '../../schemas/milvus/collections.js';
import { cosine, pairSums } from '../util/vector-math.js';

/** Similarity of two vectors, higher = more alike: cosine, inner product, or minus the Euclidean distance. */
export function similarity(a: readonly number[], b: readonly number[], metric: MultiVectorMetric): number {
  const sums = pairSums(a, b);
  if (metric === 'ip') return sums.dot;
  if (metric === 'l2') return -Math.sqrt(sums.l2sq);
  return cosine(sums);
}

/** Σ over query tokens of the best similarity among the document's tokens; undefined for a document without tokens. */
export function maxSimScore(
  query: readonly (readonly number[])[],
  doc: readonly (readonly number[])[],
  metric: MultiVectorMetric,
): number | undefined {
  if (doc.length === 0) return undefined;
  let total = 0;
  for (const q of query) {
    let best = Number.NEGATIVE_INFINITY;
    for (const d of doc) best = Math.max(best, similarity(q, d, metric));
    total += best;
  }
  return total;
}

/** Documents ranked by max-sim, best first (ties by id); documents without tokens are left out. */
export function rankByMaxSim(
  query: readonly (readonly number[])[],
  docs: ReadonlyMap<string, readonly (readonly number[])[]>,
  metric: MultiVectorMetric,
  limit = Number.POSITIVE_INFINITY,
): { id: string; score: number }[] {
  const scored: { id: string; score: number }[] = [];
  for (const [id, tokens] of docs) {
    const score = maxSimScore(query, tokens, metric);
    if (score !== undefined) scored.push({ id, score });
  }
  return scored.sort((x, y) => y.score - x.score || (x.id < y.id ? -1 : x.id > y.id ? 1 : 0)).slice(0, limit);
}

/**
 * Candidate chunks from per-query-token nearest token rows: each chunk gets, per query token, the best similarity of
 * its rows among that token's hits, summed (an upper-bound-free approximation of max-sim, used only to choose which
 * chunks to score exactly). For `l2` the hits' scores are distances and count negated. Best first, at most `max`.
 */
export function candidateChunks(
  perQueryToken: readonly (readonly { chunkId: string; score: number }[])[],
  metric: MultiVectorMetric,
  max: number,
): string[] {
  const totals = new Map<string, number>();
  for (const hits of perQueryToken) {
    const best = new Map<string, number>();
    for (const { chunkId, score } of hits) {
      const s = metric === 'l2' ? -score : score;
      best.set(chunkId, Math.max(best.get(chunkId) ?? Number.NEGATIVE_INFINITY, s));
    }
    for (const [chunkId, s] of best) totals.set(chunkId, (totals.get(chunkId) ?? 0) + s);
  }
  return [...totals.entries()]
    .sort(([a, x], [b, y]) => y - x || (a < b ? -1 : a > b ? 1 : 0))
    .slice(0, max)
    .map(([id]) => id);
}
