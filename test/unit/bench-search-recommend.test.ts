import { describe, expect, it } from 'vitest';
import { type MeasuredSetting, recommendSettings } from '../../lib/bench/search/recommend.js';
import { hnswSpeedups } from '../../lib/bench/search/speedup.js';

const hnsw = (value: number, recall: number, clients = 1, qps = 1000 / value): MeasuredSetting => ({
  store: 'pgvector',
  index: 'hnsw',
  param: 'hnsw.ef_search',
  value,
  clients,
  recall,
  qps,
  p99Ms: value / 10,
});

const exact = (clients: number, qps: number): MeasuredSetting => ({
  ...hnsw(0, 1, clients, qps),
  index: 'exact',
  param: null,
  value: null,
});

describe('recommended search setting', () => {
  it('is the smallest swept value meeting the target recall', () => {
    const points = [hnsw(10, 0.8), hnsw(20, 0.93), hnsw(40, 0.96), hnsw(80, 0.99), hnsw(160, 1)];
    const [r] = recommendSettings(points, 0.95);
    expect(r).toMatchObject({
      store: 'pgvector',
      index: 'hnsw',
      param: 'hnsw.ef_search',
      value: 40,
      recall: 0.96,
    });
    expect(r!.qps).toBeCloseTo(25);
    expect(r!.p99Ms).toBe(4);
    expect(recommendSettings(points, 0.99)[0]!.value).toBe(80);
    expect(recommendSettings(points, 0.5)[0]!.value).toBe(10);
  });

  it('skips a value that meets the target only by luck, with a larger one falling short again', () => {
    const points = [hnsw(10, 0.951), hnsw(20, 0.949), hnsw(40, 0.97)];
    expect(recommendSettings(points, 0.95)[0]!.value).toBe(40);
  });

  it('takes the lowest recall seen over client counts and the throughput at the fewest clients', () => {
    const points = [
      hnsw(20, 0.96, 1, 500),
      hnsw(20, 0.94, 16, 900),
      hnsw(40, 0.97, 1, 300),
      hnsw(40, 0.97, 16, 700),
    ];
    const [r] = recommendSettings(points, 0.95);
    expect(r).toMatchObject({ value: 40, recall: 0.97, qps: 300 });
  });

  it('says how far short the largest value is when none meets the target', () => {
    const [r] = recommendSettings([hnsw(10, 0.5), hnsw(640, 0.91)], 0.95);
    expect(r).toMatchObject({ value: null, recall: null, qps: null, largest: { value: 640, recall: 0.91 } });
  });

  it('gives one recommendation per store and index, none for the exact scan', () => {
    const points: MeasuredSetting[] = [
      hnsw(40, 0.97),
      { ...hnsw(8, 0.96), store: 'milvus', index: 'ivf', param: 'nprobe' },
      { ...hnsw(0, 1), index: 'exact', param: null, value: null },
    ];
    const out = recommendSettings(points, 0.95);
    expect(out.map((r) => `${r.store} ${r.index} ${r.param}=${r.value}`)).toEqual([
      'pgvector hnsw hnsw.ef_search=40',
      'milvus ivf nprobe=8',
    ]);
  });

  it('refuses a target outside (0, 1]', () => {
    expect(() => recommendSettings([], 0)).toThrow(/target recall/);
    expect(() => recommendSettings([], 1.5)).toThrow(/target recall/);
  });
});

describe('HNSW speed-up over the exact scan', () => {
  it('divides the fastest HNSW setting reaching the target by the exact scan, per store and client count', () => {
    const points = [
      hnsw(10, 0.9, 1, 2000),
      hnsw(40, 0.96, 1, 1000),
      hnsw(80, 0.99, 1, 600),
      exact(1, 20),
      hnsw(40, 0.96, 4, 3000),
      exact(4, 50),
    ];
    const out = hnswSpeedups(points, 0.95);
    expect(out.map((s) => [s.clients, s.hnsw?.value, s.ratio])).toEqual([
      [1, 40, 50],
      [4, 40, 60],
    ]);
    expect(hnswSpeedups(points, 0.999).every((s) => s.hnsw === null && s.ratio === null)).toBe(true);
  });

  it('compares HNSW with the exact scan at the same queries per request, and recommends from one per request', () => {
    const at = (p: MeasuredSetting, batch: number): MeasuredSetting => ({ ...p, batch });
    const points = [
      hnsw(40, 0.96, 1, 200),
      exact(1, 40),
      at(hnsw(40, 0.96, 1, 1500), 10),
      at(hnsw(20, 0.94, 1, 2500), 10),
      at(exact(1, 50), 10),
    ];
    const out = hnswSpeedups(points, 0.95);
    expect(out.map((s) => [s.batch, s.hnsw?.qps, s.exact?.qps, s.ratio])).toEqual([
      [1, 200, 40, 5],
      [10, 1500, 50, 30],
    ]);
    // A batched point never becomes the recommended setting nor its QPS.
    const [r] = recommendSettings([...points, at(hnsw(20, 0.99, 1, 2500), 10)], 0.95);
    expect([r!.value, r!.qps]).toEqual([40, 200]);
  });
});
