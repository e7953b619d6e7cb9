// Latency and throughput of one measurement: nearest-rank percentiles of the per-query latencies, and queries per second
// over the wall time of the whole measurement (all clients together).
import { percentile } from '../../verify/recall-math.js';

export interface LatencySummary {
  queries: number;
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
  meanMs: number;
  maxMs: number;
  /** Queries completed per second of wall time. */
  qps: number;
}

export function summariseLatencies(latenciesMs: readonly number[], wallMs: number): LatencySummary {
  if (!(wallMs > 0)) throw new RangeError(`wall time must be positive, got ${wallMs}`);
  const total = latenciesMs.reduce((sum, v) => sum + v, 0);
  return {
    queries: latenciesMs.length,
    p50Ms: percentile(latenciesMs, 50),
    p95Ms: percentile(latenciesMs, 95),
    p99Ms: percentile(latenciesMs, 99),
    meanMs: total / latenciesMs.length,
    maxMs: Math.max(...latenciesMs),
    qps: (latenciesMs.length / wallMs) * 1000,
  };
}
