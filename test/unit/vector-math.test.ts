import { describe, expect, it } from 'vitest';
import { cosine, pairSums } from '../../lib/util/vector-math.js';

describe('pair sums', () => {
  it('computes dot, both squared norms and the squared distance', () => {
    expect(pairSums([1, 2, 3], [4, -5, 6])).toEqual({ dot: 12, aa: 14, bb: 77, l2sq: 9 + 49 + 9 });
  });

  it('refuses vectors of different dimensions, naming both', () => {
    expect(() => pairSums([1, 2], [1, 2, 3])).toThrow('vectors of dimension 2 and 3');
  });

  it('cosine is 1 for parallel vectors, -1 for opposite ones and 0 against a zero vector', () => {
    expect(cosine(pairSums([1, 1], [2, 2]))).toBeCloseTo(1, 12);
    expect(cosine(pairSums([1, 0], [-3, 0]))).toBeCloseTo(-1, 12);
    expect(cosine(pairSums([0, 0], [1, 2]))).toBe(0);
  });
});
