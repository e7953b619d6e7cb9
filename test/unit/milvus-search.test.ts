import { describe, expect, it } from 'vitest';
import { normalizeScore, rrfFuse, weightedFuse } from '../../lib/milvus/fusion.js';
import { candidateChunks, maxSimScore, rankByMaxSim, similarity } from '../../lib/milvus/maxsim.js';
import { nativeMultiVectorRow, tokenRows } from '../../lib/milvus/search.js';

describe('reciprocal rank fusion', () => {
  it('sums 1/(k + rank) over the lists, ranks from 1', () => {
    const fused = rrfFuse(
      [
        ['a', 'b', 'c'],
        ['c', 'a', 'd'],
      ],
      60,
    );
    expect(fused.map((h) => h.id)).toEqual(['a', 'c', 'b', 'd']);
    expect(fused[0]!.score).toBeCloseTo(1 / 61 + 1 / 62, 12);
    expect(fused[1]!.score).toBeCloseTo(1 / 63 + 1 / 61, 12);
    expect(fused[2]!.score).toBeCloseTo(1 / 62, 12);
    expect(fused[3]!.score).toBeCloseTo(1 / 63, 12);
  });

  it('lets a document found by both legs beat one leg’s winner, and k controls how much', () => {
    const lists = [
      ['x', 'both'],
      ['y', 'both'],
    ];
    expect(rrfFuse(lists, 60)[0]!.id).toBe('both');
    // With k = 0 a first place (1/1) outweighs two second places (1/2 + 1/2 = 1): a tie broken by best rank.
    expect(rrfFuse(lists, 0).map((h) => h.id)).toEqual(['x', 'y', 'both']);
  });

  it('counts an id once per list, breaks ties deterministically, honours the limit', () => {
    expect(rrfFuse([['a', 'a', 'b']], 60).map((h) => h.score)).toEqual([1 / 61, 1 / 63]);
    expect(rrfFuse([['b'], ['a']], 60).map((h) => h.id)).toEqual(['a', 'b']);
    expect(rrfFuse([['a', 'b', 'c']], 60, 2).map((h) => h.id)).toEqual(['a', 'b']);
    expect(() => rrfFuse([['a']], -1)).toThrow(/k = -1/);
  });
});

describe('weighted fusion', () => {
  it('normalizes each metric to [0, 1], higher is better', () => {
    expect(normalizeScore(1, 'COSINE')).toBe(1);
    expect(normalizeScore(-1, 'COSINE')).toBe(0);
    expect(normalizeScore(0, 'IP')).toBe(0.5);
    expect(normalizeScore(0, 'BM25')).toBe(0);
    expect(normalizeScore(0, 'L2')).toBe(1);
    expect(normalizeScore(1e9, 'L2')).toBeCloseTo(0, 6);
    expect(normalizeScore(3, 'BM25')).toBeGreaterThan(normalizeScore(1, 'BM25'));
  });

  it('weights the legs', () => {
    const dense = {
      hits: [
        { id: 'a', score: 0.9 },
        { id: 'b', score: 0.1 },
      ],
      metric: 'COSINE' as const,
    };
    const lexical = { hits: [{ id: 'b', score: 10 }], metric: 'BM25' as const };
    const denseHeavy = weightedFuse([dense, lexical], [0.9, 0.1]);
    expect(denseHeavy.map((h) => h.id)).toEqual(['a', 'b']);
    expect(denseHeavy[0]!.score).toBeCloseTo(0.9 * 0.95, 12);
    expect(weightedFuse([dense, lexical], [0.1, 0.9]).map((h) => h.id)).toEqual(['b', 'a']);
    expect(() => weightedFuse([dense], [0.5, 0.5])).toThrow(/2 weight\(s\) for 1 result list/);
  });
});

describe('max-sim (late interaction)', () => {
  it('computes cosine, inner product and negative L2', () => {
    expect(similarity([1, 0], [0, 1], 'cosine')).toBe(0);
    expect(similarity([2, 0], [3, 0], 'cosine')).toBe(1);
    expect(similarity([2, 0], [3, 1], 'ip')).toBe(6);
    expect(similarity([0, 0], [3, 4], 'l2')).toBe(-5);
    expect(() => similarity([1], [1, 2], 'ip')).toThrow(/dimension 1 and 2/);
  });

  it('sums each query token’s best match', () => {
    const query = [
      [1, 0],
      [0, 1],
    ];
    // Token 1 matches [1,0] exactly (1), token 2's best is [0.6,0.8] (0.8).
    expect(
      maxSimScore(
        query,
        [
          [1, 0],
          [0.6, 0.8],
        ],
        'ip',
      ),
    ).toBeCloseTo(1.8, 12);
    expect(maxSimScore(query, [], 'ip')).toBeUndefined();
  });

  it('ranks chunks by max-sim, not by their single best token', () => {
    const query = [
      [1, 0],
      [0, 1],
    ];
    const docs = new Map([
      // One perfect token for the first query token, nothing for the second: 1 + 0.
      ['one-perfect', [[1, 0]]],
      // Good for both query tokens: 0.8 + 0.8.
      [
        'both-good',
        [
          [0.8, 0.6],
          [0.6, 0.8],
        ],
      ],
      ['empty', []],
    ]);
    expect(rankByMaxSim(query, docs, 'cosine')).toEqual([
      { id: 'both-good', score: expect.closeTo(1.6, 9) },
      { id: 'one-perfect', score: 1 },
    ]);
    expect(rankByMaxSim(query, docs, 'cosine', 1).map((h) => h.id)).toEqual(['both-good']);
  });

  it('picks candidate chunks from per-token hits, L2 distances negated', () => {
    const perToken = [
      [
        { chunkId: 'a', score: 0.9 },
        { chunkId: 'a', score: 0.5 },
        { chunkId: 'b', score: 0.8 },
      ],
      [{ chunkId: 'b', score: 0.7 }],
    ];
    expect(candidateChunks(perToken, 'cosine', 10)).toEqual(['b', 'a']);
    expect(candidateChunks(perToken, 'cosine', 1)).toEqual(['b']);
    expect(
      candidateChunks(
        [
          [
            { chunkId: 'near', score: 0.1 },
            { chunkId: 'far', score: 2 },
          ],
        ],
        'l2',
        10,
      ),
    ).toEqual(['near', 'far']);
  });
});

describe('multi-vector rows', () => {
  it('keys token rows chunk_id:position', () => {
    expect(
      tokenRows({ chunkId: 'c1', documentId: 'd1' }, [
        [1, 0],
        [0, 1],
      ]),
    ).toEqual([
      { token_id: 'c1:0', chunk_id: 'c1', token_position: 0, embedding: [1, 0], document_id: 'd1' },
      { token_id: 'c1:1', chunk_id: 'c1', token_position: 1, embedding: [0, 1], document_id: 'd1' },
    ]);
  });

  it('puts the native embedding list in the tokens Array of Struct', () => {
    expect(nativeMultiVectorRow({ chunkId: 'c1', document_id: 'd1' }, [[1, 0]])).toEqual({
      chunk_id: 'c1',
      document_id: 'd1',
      tokens: [{ embedding: [1, 0] }],
    });
  });
});
