// Shared vocabulary of backup and restore: the stores, the errors, and the settings every store module reads.
import { EXIT, VectorstackError } from '../../errors.js';
import type { RunningStack } from '../../stack/running-stack.js';
import type { Progress } from '../../util/progress.js';

/** The stores a backup set holds, in restore order. */
export const BACKUP_STORES = ['postgres', 'milvus', 'redis'] as const;
export type BackupStore = (typeof BACKUP_STORES)[number];

/** A backup could not be taken; the backup directory is left incomplete (no manifest) and says so. */
export class BackupError extends VectorstackError {}

/** A backup set is unusable (missing, edited, truncated, or from a newer server): nothing was restored. */
export class BackupSetError extends VectorstackError {}

/** The target is not fit for this restore (holds data, lacks a role or an extension): nothing was restored. */
export class RestoreRefusedError extends VectorstackError {}

/** A restore ran but the restored data does not match the manifest (exit 2: an inconsistency found). */
export class RestoreMismatchError extends VectorstackError {
  constructor(headline: string, problems: string[]) {
    super(headline, { problems, exitCode: EXIT.drift });
  }
}

/** What every store module gets: the running stack, where to report progress, and the sampling settings. */
export interface StoreContext {
  stack: RunningStack;
  progress: Progress;
  /** Sampled queries per vector index or collection for recall@k. @default 20 */
  recallQueries: number;
  /** k of recall@k. @default 10 */
  recallK: number;
}

export const DEFAULT_RECALL_QUERIES = 20;
export const DEFAULT_RECALL_K = 10;

/** JSON with object keys sorted at every level: one text per value, whatever the insertion order (for hashing). */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value && typeof value === 'object' && !(value instanceof Uint8Array)) {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) out[key] = sortKeys((value as Record<string, unknown>)[key]);
    return out;
  }
  return value;
}

/**
 * Compares dotted versions numerically (`2.3.5` < `2.3.10`; a leading `v` and suffixes such as `-lite` or ` (Debian
 * ...)` are ignored). Negative when a < b.
 */
export function compareVersions(a: string, b: string): number {
  const parts = (v: string) =>
    (v.replace(/^v/, '').match(/^\d+(\.\d+)*/)?.[0] ?? '0').split('.').map((n) => Number(n));
  const x = parts(a);
  const y = parts(b);
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    const d = (x[i] ?? 0) - (y[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}
