import type { MilvusClient } from '@zilliz/milvus2-sdk-node';
import { VectorstackError } from '../errors.js';
import type { Waiting } from '../util/poll.js';
import { checkStatus } from './status.js';

/**
 * Probes for `waitFor` (lib/util/poll.ts) on a Milvus collection: its indexes built, and it loaded. Each reads the
 * server once and returns true or what it saw; a refused call or a failed build throws a VectorstackError, which ends
 * the wait at once instead of running out its timeout.
 */

/** Milvus reports an index build as Failed: waiting longer cannot help. */
export class MilvusIndexBuildError extends VectorstackError {}

/** The fields of one describeIndex entry a wait reads (the SDK renders the counts as strings). */
export interface IndexProgress {
  index_name: string;
  state: string | number;
  indexed_rows?: string | number;
  total_rows?: string | number;
  pending_index_rows?: string | number;
  index_state_fail_reason?: string;
}

export interface IndexWaitOptions {
  /** Only this index (bootstrap names each index after its field). @default every index of the collection */
  index?: string;
  /** Rows the index must cover at least: what was inserted and flushed. @default 0 */
  rows?: number;
}

/**
 * True when every chosen index is Finished with no rows pending, every row of the collection's flushed segments
 * indexed, and at least `rows` of them; otherwise what is still being built. A Failed index throws
 * MilvusIndexBuildError naming the collection, the index and Milvus's reason.
 */
export function indexBuildVerdict(
  collection: string,
  indexes: IndexProgress[],
  options: IndexWaitOptions = {},
): true | Waiting {
  const chosen =
    options.index === undefined ? indexes : indexes.filter((i) => i.index_name === options.index);
  const failed = chosen.find((i) => String(i.state) === 'Failed');
  if (failed)
    throw new MilvusIndexBuildError(
      `milvus: ${collection}: index ${failed.index_name} failed: ${failed.index_state_fail_reason || 'no reason given'}`,
    );
  if (chosen.length === 0)
    return { waiting: options.index === undefined ? 'no index yet' : `no index ${options.index} yet` };
  const rows = options.rows ?? 0;
  const pending = chosen.filter((i) => {
    const indexed = Number(i.indexed_rows ?? 0);
    const total = Number(i.total_rows ?? 0);
    return (
      String(i.state) !== 'Finished' ||
      Number(i.pending_index_rows ?? 0) > 0 ||
      indexed < total ||
      total < rows
    );
  });
  if (pending.length === 0) return true;
  return {
    waiting: pending
      .map((i) => `${i.index_name} ${i.state}, ${i.indexed_rows ?? 0} of ${i.total_rows ?? 0} rows indexed`)
      .join('; '),
  };
}

/** Probe: the collection's indexes (or `options.index`) built over all its rows (indexBuildVerdict). */
export async function indexesBuilt(
  client: MilvusClient,
  collection: string,
  options: IndexWaitOptions = {},
): Promise<true | Waiting> {
  const described = await client.describeIndex({ collection_name: collection });
  checkStatus(described.status, `describeIndex ${collection}`);
  return indexBuildVerdict(collection, described.index_descriptions ?? [], options);
}

/** Probe: the collection is loaded (searchable). */
export async function collectionLoaded(client: MilvusClient, collection: string): Promise<true | Waiting> {
  const load = await client.getLoadState({ collection_name: collection });
  checkStatus(load.status, `getLoadState ${collection}`);
  return String(load.state) === 'LoadStateLoaded' || { waiting: `state ${load.state}` };
}
