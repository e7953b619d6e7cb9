// What an index buys: per store and client count, the fastest HNSW setting reaching the target recall@k against the
// exact scan at the same client count.
import type { MeasuredSetting } from './recommend.js';
import type { StoreName } from './types.js';

export interface Speedup {
  store: StoreName;
  clients: number;
  targetRecall: number;
  hnsw: MeasuredSetting | null;
  exact: MeasuredSetting | null;
  /** HNSW queries/s over exact-scan queries/s; null when either is missing. */
  ratio: number | null;
}

export function hnswSpeedups(points: readonly MeasuredSetting[], targetRecall: number): Speedup[] {
  const keys = new Map<string, { store: StoreName; clients: number }>();
  for (const p of points) keys.set(`${p.store}\0${p.clients}`, { store: p.store, clients: p.clients });
  return [...keys.values()].map(({ store, clients }) => {
    const here = points.filter((p) => p.store === store && p.clients === clients);
    const hnsw =
      here.filter((p) => p.index === 'hnsw' && p.recall >= targetRecall).sort((a, b) => b.qps - a.qps)[0] ??
      null;
    const exact = here.find((p) => p.index === 'exact') ?? null;
    return { store, clients, targetRecall, hnsw, exact, ratio: hnsw && exact ? hnsw.qps / exact.qps : null };
  });
}
