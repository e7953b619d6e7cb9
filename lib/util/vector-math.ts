// The sums every vector comparison of the kit is made from (recall scoring, Chroma distances, max-sim), computed once
// per pair in float64. Pure functions.

export interface PairSums {
  /** a·b */
  dot: number;
  /** |a|² */
  aa: number;
  /** |b|² */
  bb: number;
  /** |a − b|² */
  l2sq: number;
}

/** The dot product, both squared norms and the squared Euclidean distance of two vectors of the same dimension. */
export function pairSums(a: ArrayLike<number>, b: ArrayLike<number>): PairSums {
  if (a.length !== b.length) throw new RangeError(`vectors of dimension ${a.length} and ${b.length}`);
  let dot = 0;
  let aa = 0;
  let bb = 0;
  let l2sq = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    dot += x * y;
    aa += x * x;
    bb += y * y;
    l2sq += (x - y) * (x - y);
  }
  return { dot, aa, bb, l2sq };
}

/** Cosine similarity from the sums; 0 when either vector is zero. */
export function cosine({ dot, aa, bb }: PairSums): number {
  return aa === 0 || bb === 0 ? 0 : dot / Math.sqrt(aa * bb);
}
