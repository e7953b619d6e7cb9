// What an index buys: per store, client count and queries per request, the fastest HNSW setting reaching the target
// recall@k against the exact scan at the same client count and queries per request.
import { batchOf, type MeasuredSetting } from './recommend.js';
import type { StoreName } from './types.js';

export interface Speedup {
  store: StoreName;
  clients: number;
  /** Queries per request of both measurements. */
  batch: number;
  targetRecall: number;
  hnsw: MeasuredSetting | null;
  exact: MeasuredSetting | null;
  /** HNSW queries/s over exact-scan queries/s; null when either is missing. */
  ratio: number | null;
}

export function hnswSpeedups(points: readonly MeasuredSetting[], targetRecall: number): Speedup[] {
  const keys = new Map<string, { store: StoreName; clients: number; batch: number }>();
  for (const p of points)
    keys.set(`${p.store}\0${p.clients}\0${batchOf(p)}`, {
      store: p.store,
      clients: p.clients,
      batch: batchOf(p),
    });
  return [...keys.values()].map(({ store, clients, batch }) => {
    const here = points.filter((p) => p.store === store && p.clients === clients && batchOf(p) === batch);
    const hnsw =
      here.filter((p) => p.index === 'hnsw' && p.recall >= targetRecall).sort((a, b) => b.qps - a.qps)[0] ??
      null;
    const exact = here.find((p) => p.index === 'exact') ?? null;
    return {
      store,
      clients,
      batch,
      targetRecall,
      hnsw,
      exact,
      ratio: hnsw && exact ? hnsw.qps / exact.qps : null,
    };
  });
}
