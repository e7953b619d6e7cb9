// recall@k of a sampled query set, as backups define it (docs/backup.md): the queries are the vectors of rows sampled
// evenly in primary-key order; "exact" is a brute-force scan of every row (ties broken by primary key); "found" is what
// the store's own index returns with recorded search parameters; recall@k is the mean over queries of
// |found ∩ exact| / k. Restore repeats the index search with the same queries and parameters and compares.
import { createHash } from 'node:crypto';
import { cosine, pairSums } from '../../util/vector-math.js';
import type { RecallRecord, RecallSample } from './manifest.js';

export type VectorMetric = 'L2' | 'IP' | 'COSINE';

/** SHA-256 of a vector's float32 little-endian bytes. */
export function vectorSha256(values: ArrayLike<number>): string {
  const bytes = Buffer.alloc(values.length * 4);
  for (let i = 0; i < values.length; i++) bytes.writeFloatLE(values[i]!, i * 4);
  return createHash('sha256').update(bytes).digest('hex');
}

/** Row positions of `count` samples spread evenly over `rows` rows (0-based, in primary-key order). */
export function samplePositions(rows: number, count: number): number[] {
  const n = Math.min(rows, count);
  const out: number[] = [];
  for (let j = 0; j < n; j++) out.push(Math.floor((j * rows) / n));
  return out;
}

/** Similarity score where larger is nearer, computed in float64 from float32 values. */
export function score(metric: VectorMetric, a: ArrayLike<number>, b: ArrayLike<number>): number {
  const sums = pairSums(a, b);
  if (metric === 'L2') return -sums.l2sq;
  if (metric === 'IP') return sums.dot;
  return cosine(sums);
}

/**
 * The k best ids seen so far. Rows must be offered in primary-key order: an equal score never displaces an earlier
 * id, so ties go to the smaller key.
 */
export class TopK {
  private readonly items: { id: string; score: number }[] = [];

  constructor(private readonly k: number) {}

  offer(id: string, value: number): void {
    const items = this.items;
    if (items.length === this.k && value <= items[items.length - 1]!.score) return;
    let at = items.length;
    while (at > 0 && items[at - 1]!.score < value) at--;
    items.splice(at, 0, { id, score: value });
    if (items.length > this.k) items.pop();
  }

  ids(): string[] {
    return this.items.map((i) => i.id);
  }
}

/** Mean of |found ∩ exact| / k over the samples (1 when there are none to measure). */
export function meanRecall(samples: RecallSample[], k: number): number {
  if (samples.length === 0) return 1;
  let sum = 0;
  for (const s of samples) {
    const exact = new Set(s.exact.slice(0, k));
    const denominator = Math.min(k, s.exact.length);
    if (denominator === 0) {
      sum += 1;
      continue;
    }
    sum += new Set(s.found.slice(0, k).filter((id) => exact.has(id))).size / denominator;
  }
  return sum / samples.length;
}

/**
 * The recall after the restore is lower than at backup time by more than `tolerance`. A rebuilt graph index (HNSW in
 * pgvector and Milvus) is not bit-for-bit the original: its random levels and insertion order differ, so recall may
 * move by a query's hit or two either way although every row and vector is identical. A higher value is never a loss.
 */
export function recallDifferences(before: RecallRecord, after: RecallSample[], tolerance: number): string[] {
  const now = meanRecall(after, before.k);
  if (before.recall - now <= tolerance + 1e-12) return [];
  return [
    `${before.target}: recall@${before.k} ${now.toFixed(4)} after restore, ${before.recall.toFixed(4)} at backup, lower by more than the tolerance ${tolerance} (${before.index})`,
  ];
}

/** The default accepted drop of recall@k after a restore (see recallDifferences). */
export const DEFAULT_RECALL_TOLERANCE = 0.01;
