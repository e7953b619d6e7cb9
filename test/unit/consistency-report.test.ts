import { describe, expect, it } from 'vitest';
import { benchUuid, expectedFaults, faultOf } from '../../lib/ops/consistency/bench.js';
import { consistencyJson, consistencyTable, unresolved } from '../../lib/ops/consistency/report.js';
import type { CollectionReport, ConsistencyReport, Finding } from '../../lib/ops/consistency/types.js';

const f = (found: number, repaired = 0, sample: string[] = []): Finding => ({ found, repaired, sample });

function report(mode: 'check' | 'repair', over: Partial<ConsistencyReport> = {}): ConsistencyReport {
  const dense: CollectionReport = {
    collection: 'p_rag_chunks',
    keyedBy: 'primary-key',
    required: true,
    vectors: 10,
    vectorsWithoutChunk: f(2, mode === 'repair' ? 2 : 0, ['x1', 'x2']),
    embeddedWithoutVector: f(1, mode === 'repair' ? 1 : 0, ['c1']),
    awaitingDrain: 0,
  };
  return {
    mode,
    environment: 'local',
    schema: 's',
    prefix: 'p_',
    exitCode: 0,
    chunks: { total: 9, embedded: 9 },
    orphanedChunks: f(0),
    outbox: {
      pendingBefore: 3,
      drained: mode === 'repair' ? 3 : 0,
      pendingAfter: mode === 'repair' ? 0 : 3,
      appliedTo: [],
    },
    collections: [
      dense,
      {
        ...dense,
        collection: 'p_rag_chunk_tokens',
        keyedBy: 'token-rows',
        required: false,
        vectorsWithoutChunk: f(0),
        embeddedWithoutVector: f(0),
      },
    ],
    stats: { seconds: 1.5, maxRssMb: 100, startRssMb: 90, postgresRows: 9, milvusIds: 10 },
    ...over,
  };
}

describe('consistency report', () => {
  it('counts what a check found and what a repair left', () => {
    expect(unresolved(report('check'))).toBe(3 + 2 + 1);
    expect(unresolved(report('repair'))).toBe(0);
    // Orphaned chunks are never repaired: they keep a repaired run inconsistent.
    expect(unresolved(report('repair', { orphanedChunks: f(4, 0, ['o1']) }))).toBe(4);
  });

  it('prints one row per check and collection, the repair column only when repairing', () => {
    const table = consistencyTable(report('check'));
    expect(table).toContain('vectors without a chunk');
    expect(table).toContain('p_rag_chunks');
    expect(table).toContain('x1, x2');
    // An optional collection gets no "embedded without a vector" row.
    expect(table.match(/embedded chunks without a vector/g)).toHaveLength(1);
    expect(table).toContain('6 inconsistencies found');
    const repaired = consistencyTable(report('repair'));
    expect(repaired).toContain('2 deleted');
    expect(repaired).toContain('1 marked pending');
    expect(repaired).toContain('consistent after repair');
  });

  it('prints JSON with a fixed key order', () => {
    const json = JSON.parse(consistencyJson(report('check')));
    expect(Object.keys(json)).toEqual([
      'mode',
      'environment',
      'schema',
      'prefix',
      'exitCode',
      'chunks',
      'orphanedChunks',
      'outbox',
      'collections',
      'stats',
    ]);
  });
});

describe('benchmark data set', () => {
  it('derives canonical uuids, and faults alternating between the two sides', () => {
    expect(benchUuid('chunk:1')).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-8[0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(benchUuid('chunk:1')).toBe(benchUuid('chunk:1'));
    const plan = { chunks: 1_000_000, faultRate: 0.001, chunksPerDocument: 1000 };
    expect([0, 1, 1000, 2000].map((i) => faultOf(i, plan))).toEqual([
      'vectorOnly',
      null,
      'chunkOnly',
      'vectorOnly',
    ]);
    expect(expectedFaults(plan)).toEqual({ vectorsWithoutChunk: 500, embeddedWithoutVector: 500 });
  });
});
