import { describe, expect, it } from 'vitest';
import {
  canonicalJson,
  chromaDistance,
  float32Identical,
  recordDifferences,
  topKAgreement,
} from '../../lib/transfer/compare.js';
import type { TransferRecord } from '../../lib/transfer/model.js';
import { copyBinary, parseVector } from '../../lib/transfer/pgvector-sink.js';
import { conflictsOf, vectorLiteral } from '../../lib/transfer/sink.js';
import { samplePositions } from '../../lib/transfer/verify.js';

const record = (over: Partial<TransferRecord> = {}): TransferRecord => ({
  id: 'ä-1',
  embedding: Float32Array.from([0.1, -0, 3]),
  document: 'doc',
  metadata: { a: 1, nested: { x: [1, 2] } },
  ...over,
});

describe('record comparison', () => {
  it('deep-compares JSON with key order ignored', () => {
    expect(canonicalJson({ b: 1, a: { d: [1, { f: 2, e: 3 }], c: null } })).toBe(
      canonicalJson({ a: { c: null, d: [1, { e: 3, f: 2 }] }, b: 1 }),
    );
    expect(canonicalJson({ a: 1 })).not.toBe(canonicalJson({ a: '1' }));
  });

  it('compares embeddings bit for bit as float32', () => {
    expect(float32Identical(Float32Array.from([0.1, 0]), Float32Array.from([0.1, 0]))).toBe(true);
    expect(float32Identical(Float32Array.from([0]), Float32Array.from([-0]))).toBe(false);
    expect(float32Identical(Float32Array.from([1]), Float32Array.from([1, 2]))).toBe(false);
  });

  it('names the differing fields of a copy', () => {
    expect(recordDifferences(record(), record({ metadata: { nested: { x: [1, 2] }, a: 1 } }))).toEqual([]);
    expect(recordDifferences(record(), undefined)).toEqual(['missing']);
    expect(recordDifferences(record(), record({ embedding: Float32Array.from([0.1, 0, 3]) }))).toEqual([
      'embedding (component 1: 0 vs 0)',
    ]);
    expect(recordDifferences(record(), record({ document: null, metadata: { a: 2 } }))).toEqual([
      'document',
      'metadata',
    ]);
    // No metadata and empty metadata are the same thing to Chroma.
    expect(recordDifferences(record({ metadata: null }), record({ metadata: {} }))).toEqual([]);
  });
});

describe('text forms written to PostgreSQL', () => {
  it('writes vectors that read back as the same float32 values', () => {
    const values = new Float32Array(2000);
    let seed = 7;
    for (let i = 0; i < values.length; i++) {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      values[i] = (seed / 2 ** 31 - 0.5) * 10 ** ((i % 12) - 6);
    }
    values[0] = -0;
    values[1] = 3.4028234663852886e38;
    values[2] = 1.401298464324817e-45;
    const literal = vectorLiteral(values);
    expect(float32Identical(parseVector(literal), values)).toBe(true);
    expect(literal.length).toBeLessThan(values.length * 16);
  });

  it('writes COPY binary tuples: text, pgvector float4s bit for bit, NULLs, jsonb version 1', () => {
    const buffer = copyBinary([record({ document: null, metadata: { a: 1 } })]);
    expect(buffer.subarray(0, 11).toString('latin1')).toBe('PGCOPY\n\xff\r\n\0');
    let at = 19;
    expect(buffer.readInt16BE(at)).toBe(4);
    at += 2;
    const idLength = buffer.readInt32BE(at);
    expect(buffer.subarray(at + 4, at + 4 + idLength).toString('utf8')).toBe('ä-1');
    at += 4 + idLength;
    expect(buffer.readInt32BE(at)).toBe(4 + 4 * 3);
    expect([buffer.readInt16BE(at + 4), buffer.readInt16BE(at + 6)]).toEqual([3, 0]);
    const components = Float32Array.from([0, 1, 2], (i) => buffer.readFloatBE(at + 8 + 4 * i));
    expect(float32Identical(components, record().embedding)).toBe(true);
    at += 4 + 4 + 4 * 3;
    expect(buffer.readInt32BE(at)).toBe(-1);
    at += 4;
    const jsonLength = buffer.readInt32BE(at);
    expect(buffer[at + 4]).toBe(1);
    expect(buffer.subarray(at + 5, at + 4 + jsonLength).toString('utf8')).toBe('{"a":1}');
    at += 4 + jsonLength;
    expect(buffer.readInt16BE(at)).toBe(-1);
    expect(buffer.length).toBe(at + 2);
  });
});

describe('agreement and conflicts', () => {
  it('counts the overlap with the exact top k, ties at the k-th distance as hits', () => {
    const distance: Record<string, number> = { a: 0, b: 1, c: 2, d: 2, e: 3 };
    const distanceOf = (id: string) => distance[id];
    expect(topKAgreement({ source: ['a', 'b', 'c'], exact: ['a', 'b', 'c'], k: 3, distanceOf })).toBe(1);
    expect(topKAgreement({ source: ['a', 'b', 'd'], exact: ['a', 'b', 'c'], k: 3, distanceOf })).toBe(1);
    expect(topKAgreement({ source: ['a', 'b', 'e'], exact: ['a', 'b', 'c'], k: 3, distanceOf })).toBeCloseTo(
      2 / 3,
    );
    expect(topKAgreement({ source: ['a', 'a', 'a'], exact: ['a', 'b', 'c'], k: 3, distanceOf })).toBeCloseTo(
      1 / 3,
    );
  });

  it("computes Chroma's distances", () => {
    expect(chromaDistance('l2', [1, 2], [4, 6])).toBe(25);
    expect(chromaDistance('ip', [1, 2], [3, 4])).toBe(-10);
    expect(chromaDistance('cosine', [1, 0], [0, 2])).toBe(1);
    expect(chromaDistance('cosine', [1, 1], [2, 2])).toBeCloseTo(0, 12);
  });

  it('reports dimension and metric conflicts with both values', () => {
    const plan = {
      chromaName: 'c',
      chromaId: 'x',
      source: 's',
      space: 'cosine' as const,
      dimension: 8,
      count: 1,
    };
    expect(conflictsOf({ dimension: 8, space: 'cosine', rows: 0 }, plan)).toEqual([]);
    expect(conflictsOf({ dimension: 4, space: 'l2', rows: 0 }, plan)).toEqual([
      { field: 'dimension', target: '4', source: '8' },
      { field: 'metric', target: 'l2', source: 'cosine' },
    ]);
  });

  it('spreads the sample over the collection', () => {
    expect([...samplePositions(10, 3)]).toEqual([0, 3, 6]);
    expect([...samplePositions(2, 100)]).toEqual([0, 1]);
    expect(samplePositions(0, 5).size).toBe(0);
  });
});
