// Search settings from measurements: for each index with a search parameter, the smallest swept value whose recall@k
// meets the target, here and at every larger value measured (a setting that only reaches the target by luck, with a
// larger value falling short again, is not recommended).
import type { IndexKind, StoreName } from './types.js';

/** What the recommendation reads of a measurement. */
export interface MeasuredSetting {
  store: StoreName;
  index: IndexKind;
  param: string | null;
  value: number | null;
  clients: number;
  /** Queries per request; absent in saved runs from before it was measured: 1. */
  batch?: number;
  recall: number;
  qps: number;
  p99Ms: number;
}

/** Queries per request of a measurement (saved runs from before it was recorded sent one). */
export const batchOf = (p: { batch?: number }): number => p.batch ?? 1;

export interface Recommendation {
  store: StoreName;
  index: IndexKind;
  param: string;
  targetRecall: number;
  /** The smallest value meeting the target; null when no swept value does. */
  value: number | null;
  /** Its recall (the lowest measured over client counts). */
  recall: number | null;
  /** Its throughput and p99 at the fewest clients measured. */
  qps: number | null;
  p99Ms: number | null;
  /** The largest value swept and its recall, to say how far short a miss is. */
  largest: { value: number; recall: number };
}

export function recommendSettings(
  points: readonly MeasuredSetting[],
  targetRecall: number,
): Recommendation[] {
  if (!(targetRecall > 0 && targetRecall <= 1))
    throw new RangeError(`target recall must be in (0, 1], got ${targetRecall}`);
  const groups = new Map<string, MeasuredSetting[]>();
  for (const p of points) {
    // Settings are recommended for one query per request, the way an application searches.
    if (p.param === null || p.value === null || batchOf(p) !== 1) continue;
    const key = `${p.store}\0${p.index}\0${p.param}`;
    groups.set(key, [...(groups.get(key) ?? []), p]);
  }
  const out: Recommendation[] = [];
  for (const group of groups.values()) {
    const { store, index, param } = group[0]!;
    const values = [...new Set(group.map((p) => p.value!))].sort((a, b) => a - b);
    // Recall does not depend on the client count, but take the lowest seen: a recommendation must hold everywhere.
    const recallOf = (v: number) => Math.min(...group.filter((p) => p.value === v).map((p) => p.recall));
    let chosen: number | null = null;
    for (let i = values.length - 1; i >= 0 && recallOf(values[i]!) >= targetRecall; i--) chosen = values[i]!;
    const fewest = Math.min(...group.map((p) => p.clients));
    const at = chosen === null ? undefined : group.find((p) => p.value === chosen && p.clients === fewest);
    const largest = values[values.length - 1]!;
    out.push({
      store,
      index,
      param: param!,
      targetRecall,
      value: chosen,
      recall: chosen === null ? null : recallOf(chosen),
      qps: at?.qps ?? null,
      p99Ms: at?.p99Ms ?? null,
      largest: { value: largest, recall: recallOf(largest) },
    });
  }
  return out;
}
