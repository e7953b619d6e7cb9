import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { runBatchedLoop, runClosedLoop } from '../../lib/bench/search/closed-loop.js';
import { summariseLatencies } from '../../lib/bench/search/latency.js';
import { parseMemUsage } from '../../lib/bench/search/server-memory.js';

describe('latency summary', () => {
  it('gives nearest-rank percentiles, mean, max and queries per second of wall time', () => {
    const latencies = Array.from({ length: 100 }, (_, i) => i + 1); // 1..100 ms
    const s = summariseLatencies(latencies, 2000);
    expect(s).toMatchObject({ queries: 100, p50Ms: 50, p95Ms: 95, p99Ms: 99, maxMs: 100, qps: 50 });
    expect(s.meanMs).toBeCloseTo(50.5);
  });

  it('handles a single query and refuses an empty or timeless measurement', () => {
    expect(summariseLatencies([7], 7)).toMatchObject({ p50Ms: 7, p99Ms: 7, qps: 1000 / 7 });
    expect(() => summariseLatencies([], 10)).toThrow(/no latencies/);
    expect(() => summariseLatencies([1], 0)).toThrow(/wall time/);
  });
});

describe('closed loop of N clients', () => {
  it('sends each query exactly once, never more than N at a time, and keeps results in query order', async () => {
    let inFlight = 0;
    let most = 0;
    const seen: number[] = [];
    const run = await runClosedLoop(['a', 'b', 'c'], 20, async (client, q) => {
      inFlight++;
      most = Math.max(most, inFlight);
      seen.push(q);
      await sleep(1);
      inFlight--;
      return `${client}:${q}`;
    });
    expect(seen.sort((x, y) => x - y)).toEqual(Array.from({ length: 20 }, (_, i) => i));
    expect(most).toBe(3);
    expect(run.results.map((r) => Number(r.split(':')[1]))).toEqual(Array.from({ length: 20 }, (_, i) => i));
    expect(run.latenciesMs).toHaveLength(20);
    expect(run.latenciesMs.every((l) => l >= 0)).toBe(true);
    expect(run.wallMs).toBeGreaterThan(0);
  });

  it('uses one client for fewer queries than clients, and needs at least one client', async () => {
    const run = await runClosedLoop([1, 2, 3, 4], 2, async (c) => c);
    expect(run.results).toHaveLength(2);
    await expect(runClosedLoop([], 2, async () => 0)).rejects.toThrow(/at least one client/);
  });
});

describe('closed loop of requests holding several queries', () => {
  it('covers every query once in requests of up to nq, gives each query its request latency, keeps query order', async () => {
    const requests: [number, number][] = [];
    const run = await runBatchedLoop(['a', 'b'], 23, 10, async (_client, first, n) => {
      requests.push([first, n]);
      await sleep(1);
      return Array.from({ length: n }, (_, i) => first + i);
    });
    expect(requests.sort((x, y) => x[0] - y[0])).toEqual([
      [0, 10],
      [10, 10],
      [20, 3],
    ]);
    expect(run.results).toEqual(Array.from({ length: 23 }, (_, i) => i));
    expect(run.latenciesMs).toHaveLength(23);
    // One latency per request, repeated for each of its queries.
    expect(new Set(run.latenciesMs.slice(0, 10)).size).toBe(1);
    expect(run.latenciesMs[20]).toBe(run.latenciesMs[22]);
  });

  it('refuses an answer count that does not match the request and a batch below 1', async () => {
    await expect(runBatchedLoop([1], 5, 5, async () => [1, 2])).rejects.toThrow(
      'request 0: 2 answers to 5 queries',
    );
    await expect(runBatchedLoop([1], 5, 0, async () => [])).rejects.toThrow(/whole number >= 1, got 0/);
  });
});

describe('docker stats memory', () => {
  it('reads the used part of MemUsage in MiB', () => {
    expect(parseMemUsage('1.5GiB / 8GiB')).toBe(1536);
    expect(parseMemUsage('512MiB / 6GiB')).toBe(512);
    expect(parseMemUsage('2048KiB / 1GiB')).toBe(2);
    expect(parseMemUsage('--')).toBeNull();
  });
});
