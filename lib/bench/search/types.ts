// Shapes shared by the search bench's parts: what a store target offers, and what one measurement records.
import type { LatencySummary } from './latency.js';

export type StoreName = 'pgvector' | 'milvus';
export const STORE_NAMES: readonly StoreName[] = ['pgvector', 'milvus'];

export type IndexKind = 'hnsw' | 'ivf' | 'exact';

/** One index of one store: its build parameters and the search-time values swept. */
export interface IndexPlan {
  index: IndexKind;
  /** The store's name for it: `HNSW`, `IVFFlat`, `IVF_FLAT`, `exact scan (no index)`, `FLAT`. */
  label: string;
  /** Search parameter (`hnsw.ef_search`, `ivfflat.probes`, `ef`, `nprobe`); null for the exact scan. */
  param: string | null;
  values: (number | null)[];
  buildParams: Record<string, number>;
}

/** Milvus's compaction after the load: how long, how many manual rounds, and the segments before and after. */
export interface Settled {
  ms: number;
  rounds: number;
  segmentsBefore: number;
  segments: number;
}

export interface BuildFigures {
  buildMs: number;
  /** Milvus: loading the built index into the query node's memory; pgvector has no such step. */
  loadMs: number | null;
  sizeBytes: number | null;
  /** Where the size comes from (pg_relation_size of the index, MinIO objects of the build, ...). */
  sizeSource: string;
  /** Milvus: sealed segments searched; null for pgvector. */
  segments: number | null;
}

/** One client's own connection to a store, searching the current index at k. */
export interface SearchSession {
  /** Applies a swept value (pgvector session settings); returns the value actually used (raised to k for HNSW). */
  prepare(value: number | null, k: number): Promise<number | null>;
  search(query: number[], k: number, effective: number | null): Promise<number[]>;
  /**
   * Several queries in one request (Milvus: `nq` > 1), answered in order; absent when the store has no such request
   * (pgvector answers one query per statement).
   */
  searchMany?(queries: number[][], k: number, effective: number | null): Promise<number[][]>;
}

export interface StoreTarget {
  store: StoreName;
  /** Docker container whose memory `docker stats` reports. */
  container: string;
  plans(): IndexPlan[];
  /** Loads the base vectors by the store's fastest path; returns milliseconds. */
  load(onProgress?: (rows: number) => void): Promise<number>;
  /**
   * After the load, brings the stored data to the layout every index is then built on and measured against (Milvus:
   * compacted segments); absent when there is nothing to wait for. Not part of the load's time.
   */
  settle?(): Promise<Settled>;
  /** Replaces the current index with `plan`'s and makes it searchable. */
  build(plan: IndexPlan): Promise<BuildFigures>;
  /** `n` sessions searching `plan`'s index, each on its own connection; closed by closeSessions(). */
  openSessions(plan: IndexPlan, n: number): Promise<SearchSession[]>;
  closeSessions(): Promise<void>;
  /** Drops the table or collection. */
  drop(): Promise<void>;
}

/** One measurement: one index setting at one client count. */
export interface SearchPoint extends LatencySummary {
  store: StoreName;
  index: IndexKind;
  label: string;
  param: string | null;
  value: number | null;
  effectiveValue: number | null;
  clients: number;
  /** Queries per request (1: one query per call; Milvus also takes several, `nq`). Every query of a request gets its latency. */
  batch: number;
  k: number;
  recall: number;
}

export interface BuildRecord extends BuildFigures {
  store: StoreName;
  index: IndexKind;
  label: string;
  buildParams: Record<string, number>;
  /** Container memory (docker stats) once the index is built and searchable, and the peak sampled during the build. */
  memoryMb: number | null;
  peakMemoryMb: number | null;
}
