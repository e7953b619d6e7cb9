import { describe, expect, it } from 'vitest';
import { groundTruth, nearestBlock } from '../../lib/bench/search/ground-truth.js';
import { DEFAULT_MIXTURE, mixtureShape, sampleMixture } from '../../lib/bench/search/mixture.js';
import { exactGroundTruth } from '../../lib/verify/dataset.js';
import type { FloatVectors } from '../../lib/verify/vectors.js';

const P = { ...DEFAULT_MIXTURE, dimension: 24, clusters: 7, intrinsicDimension: 4 };
const shape = mixtureShape(P);
const base = sampleMixture(P, shape, 1, 1500);
const queries = sampleMixture(P, shape, 2, 37);

const set = (rows: number[][]): FloatVectors => ({
  file: '',
  count: rows.length,
  dimension: rows[0]!.length,
  values: Float32Array.from(rows.flat()),
});

describe('brute-force ground truth', () => {
  it('equals a naive full sort of every distance (lib/verify exactGroundTruth)', async () => {
    const naive = exactGroundTruth(base, queries, 20);
    const batched = await groundTruth(base, queries, 20, { workers: 1 });
    expect(batched.count).toBe(37);
    expect(batched.dimension).toBe(20);
    expect(Array.from(batched.values)).toEqual(Array.from(naive.values));
  });

  it('gives the same lists split over worker threads', async () => {
    const one = await groundTruth(base, queries, 10, { workers: 1 });
    const three = await groundTruth(base, queries, 10, { workers: 3 });
    expect(Array.from(three.values)).toEqual(Array.from(one.values));
  });

  it('orders equal distances by id, also at the cut-off', async () => {
    // Rows 1, 2 and 4 are all at squared distance 1 from the query; row 0 is the query itself.
    const b = set([
      [0, 0],
      [1, 0],
      [0, 1],
      [5, 5],
      [-1, 0],
    ]);
    const q = set([[0, 0]]);
    expect(Array.from((await groundTruth(b, q, 3, { workers: 1 })).values)).toEqual([0, 1, 2]);
    expect(Array.from((await groundTruth(b, q, 5, { workers: 1 })).values)).toEqual([0, 1, 2, 4, 3]);
    expect(Array.from(exactGroundTruth(b, q, 5).values)).toEqual([0, 1, 2, 4, 3]);
  });

  it('abandons a row early only when it cannot enter the list (dimension not a multiple of the check step)', () => {
    const d = 37;
    const b = sampleMixture({ ...P, dimension: d }, mixtureShape({ ...P, dimension: d }), 1, 400);
    const q = sampleMixture({ ...P, dimension: d }, mixtureShape({ ...P, dimension: d }), 2, 9);
    const out = new Int32Array(9 * 15);
    nearestBlock(b.values, b.count, q.values, d, 0, 9, 15, out);
    expect(Array.from(out)).toEqual(Array.from(exactGroundTruth(b, q, 15).values));
  });

  it('refuses a depth beyond the base or mismatched dimensions', async () => {
    await expect(groundTruth(base, queries, 2000)).rejects.toThrow(/depth 2000/);
    await expect(groundTruth(base, set([[1, 2]]), 1)).rejects.toThrow(/dimension mismatch/);
  });
});
