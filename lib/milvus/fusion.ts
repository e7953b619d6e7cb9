// Client-side fusion of ranked result lists: reciprocal rank fusion and weighted score fusion, as Milvus's RRFRanker
// and WeightedRanker do on the server. Pure functions.

/** The metric a result list's scores come from (a distance for L2, a similarity for the others). */
export type ScoreMetric = 'COSINE' | 'IP' | 'L2' | 'BM25';

export interface ScoredId {
  id: string;
  score: number;
}

/** RRF's constant k. @default 60 (Milvus's RRFRanker default and the paper's) */
export const DEFAULT_RRF_K = 60;

/**
 * Reciprocal rank fusion: each list adds 1 / (k + rank) for every id it holds (rank from 1). Ties keep the order
 * of the best single rank, then the id, so the result is deterministic.
 */
export function rrfFuse(
  rankings: string[][],
  k = DEFAULT_RRF_K,
  limit = Number.POSITIVE_INFINITY,
): ScoredId[] {
  if (!(k >= 0)) throw new RangeError(`RRF k = ${k}: must be a number ≥ 0`);
  const scores = new Map<string, { score: number; best: number }>();
  for (const ranking of rankings) {
    const seen = new Set<string>();
    ranking.forEach((id, index) => {
      if (seen.has(id)) return; // a list counts each id once, at its best rank
      seen.add(id);
      const entry = scores.get(id) ?? { score: 0, best: Number.POSITIVE_INFINITY };
      entry.score += 1 / (k + index + 1);
      entry.best = Math.min(entry.best, index + 1);
      scores.set(id, entry);
    });
  }
  return [...scores.entries()]
    .sort(([a, x], [b, y]) => y.score - x.score || x.best - y.best || (a < b ? -1 : a > b ? 1 : 0))
    .slice(0, limit)
    .map(([id, { score }]) => ({ id, score }));
}

/**
 * A raw score mapped to [0, 1], higher = better, so lists of different metrics can be weighted together: COSINE
 * (1 + s) / 2; IP 0.5 + atan(s)/π; BM25 (never negative) 2·atan(s)/π; L2 (a distance) 1 − 2·atan(d)/π.
 */
export function normalizeScore(score: number, metric: ScoreMetric): number {
  switch (metric) {
    case 'COSINE':
      return (1 + score) / 2;
    case 'IP':
      return 0.5 + Math.atan(score) / Math.PI;
    case 'BM25':
      return (2 * Math.atan(score)) / Math.PI;
    case 'L2':
      return 1 - (2 * Math.atan(score)) / Math.PI;
  }
}

/** Weighted fusion: Σ weight × normalized score over the lists an id appears in. One weight per list. */
export function weightedFuse(
  lists: { hits: ScoredId[]; metric: ScoreMetric }[],
  weights: number[],
  limit = Number.POSITIVE_INFINITY,
): ScoredId[] {
  if (weights.length !== lists.length)
    throw new RangeError(`weighted fusion: ${weights.length} weight(s) for ${lists.length} result list(s)`);
  const scores = new Map<string, number>();
  lists.forEach(({ hits, metric }, i) => {
    const seen = new Set<string>();
    for (const hit of hits) {
      if (seen.has(hit.id)) continue;
      seen.add(hit.id);
      scores.set(hit.id, (scores.get(hit.id) ?? 0) + weights[i]! * normalizeScore(hit.score, metric));
    }
  });
  return [...scores.entries()]
    .sort(([a, x], [b, y]) => y - x || (a < b ? -1 : a > b ? 1 : 0))
    .slice(0, limit)
    .map(([id, score]) => ({ id, score }));
}
