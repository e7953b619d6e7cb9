import { describe, expect, it } from 'vitest';
import { copyBinaryRows } from '../../lib/bench/search/pg-target.js';
import { searchPlot } from '../../lib/bench/search/plot.js';
import { readSearchBenchReport } from '../../lib/bench/search/report.js';
import type { SearchPoint } from '../../lib/bench/search/types.js';
import { scratchFiles } from './helpers.js';

describe('pgvector binary COPY rows', () => {
  it('writes the signature once, then per row: 2 fields, int4 id, vector (int16 dim, int16 0, big-endian float4s)', () => {
    const vectors = { file: '', count: 2, dimension: 2, values: Float32Array.from([1.5, -2, 0.25, 3]) };
    const first = copyBinaryRows(vectors, 0, 1, true);
    expect(first.subarray(0, 11).toString('latin1')).toBe('PGCOPY\n\xff\r\n\0');
    const row = first.subarray(19);
    expect(row.readInt16BE(0)).toBe(2);
    expect([row.readInt32BE(2), row.readInt32BE(6)]).toEqual([4, 0]);
    expect([row.readInt32BE(10), row.readInt16BE(14), row.readInt16BE(16)]).toEqual([12, 2, 0]);
    expect([row.readFloatBE(18), row.readFloatBE(22)]).toEqual([1.5, -2]);
    expect(row.length).toBe(26);
    const second = copyBinaryRows(vectors, 1, 2, false);
    expect(second.readInt32BE(6)).toBe(1);
    expect([second.readFloatBE(18), second.readFloatBE(22)]).toEqual([0.25, 3]);
  });
});

describe('recall/QPS plot', () => {
  const point = (p: Partial<SearchPoint>): SearchPoint => ({
    store: 'pgvector',
    index: 'hnsw',
    label: 'HNSW',
    param: 'hnsw.ef_search',
    value: 40,
    effectiveValue: 40,
    clients: 1,
    batch: 1,
    k: 10,
    recall: 0.97,
    queries: 100,
    p50Ms: 1,
    p95Ms: 2,
    p99Ms: 3,
    meanMs: 1.2,
    maxMs: 4,
    qps: 800,
    ...p,
  });

  it('draws one panel per client count with a series per store and index', () => {
    const svg = searchPlot({
      k: 10,
      dataset: '100,000 x 128d synthetic',
      points: [
        point({}),
        point({ value: 80, effectiveValue: 80, recall: 0.99, qps: 500 }),
        point({
          index: 'exact',
          label: 'exact scan (no index)',
          param: null,
          value: null,
          recall: 1,
          qps: 20,
        }),
        point({ clients: 4, qps: 2000 }),
        point({ store: 'milvus', index: 'ivf', label: 'IVF_FLAT', param: 'nprobe', value: 8, qps: 300 }),
      ],
    });
    expect(svg.match(/<svg /g)).toHaveLength(3);
    expect(svg).toContain('recall@10 vs QPS, 1 client (100,000 x 128d synthetic, L2)');
    expect(svg).toContain('4 clients');
    for (const name of ['pgvector HNSW', 'pgvector exact scan (no index)', 'milvus IVF_FLAT'])
      expect(svg).toContain(name);
    expect(svg).toContain('y="520"');
  });
});

describe('a saved bench:search run', () => {
  const file = scratchFiles('vs-bench-report');

  it('is read back when it has what the tables and the plot need', () => {
    const saved = {
      points: [],
      builds: [],
      loads: [],
      speedups: [],
      recommendations: [],
      dataset: {},
      k: 10,
    };
    expect(readSearchBenchReport(file('ok.json', JSON.stringify(saved)))).toEqual(saved);
  });

  it('anything else is refused naming the file and what is missing', () => {
    const other = file('other.json', JSON.stringify({ name: 'vectorstack', k: 10 }));
    expect(() => readSearchBenchReport(other)).toThrow(
      `--report ${other}: not a bench:search report (missing points, builds, loads, speedups, recommendations, dataset)`,
    );
    const broken = file('broken.json', '{"points": [');
    expect(() => readSearchBenchReport(broken)).toThrow(`--report ${broken}: not a readable JSON file (`);
  });
});
