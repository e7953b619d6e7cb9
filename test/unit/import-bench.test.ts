import { describe, expect, it } from 'vitest';
import { defaultPageSize } from '../../lib/transfer/import.js';
import {
  defaultPageSetting,
  parsePageSettings,
  summariseImportBench,
} from '../../lib/transfer/import-bench.js';

describe('bench:import --pages', () => {
  it('parses SIZE:AHEAD settings in order', () => {
    expect(parsePageSettings('1000:2, 2500:4')).toEqual([
      { pageSize: 1000, readAhead: 2 },
      { pageSize: 2500, readAhead: 4 },
    ]);
    expect(defaultPageSetting(128)).toEqual({ pageSize: 2560, readAhead: 2 });
  });

  it('refuses a malformed or out-of-range part, naming it and the allowed form', () => {
    expect(() => parsePageSettings('1000:2,2500')).toThrow(
      '--pages 2500: expected SIZE:AHEAD with SIZE 1-100000 records and AHEAD 0-16 pages, e.g. 1000:2',
    );
    expect(() => parsePageSettings('0:2')).toThrow(/--pages 0:2: expected SIZE:AHEAD/);
    expect(() => parsePageSettings('1000:17')).toThrow(/--pages 1000:17: expected SIZE:AHEAD/);
  });
});

describe('import:chroma default page size', () => {
  it('carries 1.25 MiB of float32 vectors, between 1,000 and 5,000 records', () => {
    expect(defaultPageSize(128)).toBe(2560);
    expect(defaultPageSize(320)).toBe(1024);
    expect([384, 768, 1536, 4096].map(defaultPageSize)).toEqual([1000, 1000, 1000, 1000]);
    expect([2, 64].map(defaultPageSize)).toEqual([5000, 5000]);
    expect([undefined, 0].map(defaultPageSize)).toEqual([1000, 1000]);
  });
});

describe('bench:import summary', () => {
  const pass = (
    round: number,
    target: 'pgvector' | 'milvus',
    bulkSeconds: number,
    importSeconds: number,
  ) => ({
    round,
    target,
    chroma: '1.5.9',
    pages: '1000:2',
    vectors: 10_000,
    bulkSeconds,
    importSeconds,
    finishSeconds: 1,
    verifySeconds: 1,
    agreement: 0.99,
  });
  const read = (round: number, seconds: number) => ({
    round,
    chroma: '1.5.9',
    pages: '1000:2',
    vectors: 10_000,
    seconds,
  });

  it('sums the rounds: a pass whose bulk load hiccupped weighs its seconds, not a vote', () => {
    const [pgvector, milvus] = summariseImportBench(
      [
        pass(1, 'pgvector', 0.05, 0.2),
        pass(1, 'milvus', 0.5, 0.8),
        pass(2, 'pgvector', 0.15, 0.2),
        pass(2, 'milvus', 0.5, 0.6),
      ],
      [read(1, 0.1), read(2, 0.15)],
      0.5,
    );
    // 20,000 vectors: bulk 0.2 s, import 0.4 s -> 0.5x, met; per pass 0.25x and 0.75x.
    expect(pgvector).toMatchObject({
      target: 'pgvector',
      passes: 2,
      bulkVectorsPerSecond: 100_000,
      importVectorsPerSecond: 50_000,
      met: true,
    });
    expect(pgvector!.ratio).toBeCloseTo(0.5, 10);
    expect(pgvector!.ratioRange[0]).toBeCloseTo(0.25, 10);
    expect(pgvector!.ratioRange[1]).toBeCloseTo(0.75, 10);
    // The source read alone: 20,000 in 0.25 s = 80,000/s, 0.8x of the bulk load.
    expect(pgvector!.sourceReadVectorsPerSecond).toBeCloseTo(80_000, 6);
    expect(pgvector!.ceiling).toBeCloseTo(0.8, 10);
    expect(milvus!.ratio).toBeCloseTo(1 / 1.4, 10);
    expect(milvus!.ceiling).toBeCloseTo(80_000 / 20_000, 10);
  });

  it('keeps page settings and Chroma versions apart, and says when the goal is not met', () => {
    const other = { ...pass(1, 'pgvector', 0.05, 0.2), pages: '2500:4' };
    const rows = summariseImportBench([pass(1, 'pgvector', 0.05, 0.2), other], [read(1, 0.1)], 0.5);
    expect(rows.map((r) => [r.pages, r.passes, r.met])).toEqual([
      ['1000:2', 1, false],
      ['2500:4', 1, false],
    ]);
    expect(rows[1]!.sourceReadVectorsPerSecond).toBe(0);
  });
});
