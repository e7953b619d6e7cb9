// The scales the search bench runs at: dataset size, how many queries each measurement may send, and the IVF list
// counts (pgvector's guidance, rows / 1000 up to a million rows, used for Milvus's nlist too so both stores partition
// alike).
import { VectorstackError } from '../../errors.js';

export interface ScaleSpec {
  name: string;
  /** Base vectors loaded into each store. */
  base: number;
  /** Query vectors generated (held out from the base, same distribution), each with exact ground truth. */
  queries: number;
  /** Ground truth depth per query. */
  depth: number;
  /** Queries per measurement (one index setting at one concurrency) for HNSW and IVF. */
  annQueries: number;
  /**
   * Queries per measurement for the exact scan: it reads every row per query, so it is bounded harder (at least two
   * rounds of the largest client count).
   */
  exactQueries: number;
  /** Unmeasured queries sent after each index build, before the sweep (warms caches and connections). */
  warmupQueries: number;
  /** IVF lists (pgvector `lists`, Milvus `nlist`). */
  lists: number;
}

export const SCALES: Record<string, ScaleSpec> = {
  /** A quick check of the whole bench (a few minutes), not a sizing figure. */
  '10k': {
    name: '10k',
    base: 10_000,
    queries: 1000,
    depth: 100,
    annQueries: 300,
    exactQueries: 100,
    warmupQueries: 100,
    lists: 10,
  },
  '100k': {
    name: '100k',
    base: 100_000,
    queries: 1000,
    depth: 100,
    annQueries: 1000,
    exactQueries: 100,
    warmupQueries: 200,
    lists: 100,
  },
  '1m': {
    name: '1m',
    base: 1_000_000,
    queries: 1000,
    depth: 100,
    annQueries: 500,
    exactQueries: 32,
    warmupQueries: 200,
    lists: 1000,
  },
};

export class ScaleError extends VectorstackError {}

export function scaleSpec(name: string): ScaleSpec {
  const spec = SCALES[name.toLowerCase()];
  if (!spec) throw new ScaleError(`--scale ${name}: allowed values: ${Object.keys(SCALES).join(', ')}`);
  return spec;
}
