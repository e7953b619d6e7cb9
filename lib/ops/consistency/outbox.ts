// The outbox drain: applies the delete entries the document_chunks trigger recorded (0004_vector_outbox.sql) to Milvus
// and marks them done. Safe to run concurrently (each entry is claimed by one drain with FOR UPDATE SKIP LOCKED) and
// to kill (an entry is marked done in the transaction that holds its lock, after its Milvus deletes: a drain that dies
// leaves its entries pending, and the next one deletes again, which Milvus treats as a no-op).
import os from 'node:os';
import type { MilvusClient } from '@zilliz/milvus2-sdk-node';
import type pg from 'pg';
import { waitFor } from '../../util/poll.js';
import type { Progress } from '../../util/progress.js';
import { deleteChunkVectors } from './milvus-side.js';
import { lastPendingOutboxId, pendingOutboxCount } from './pg-side.js';
import { TABLES } from './types.js';

export interface DrainOptions {
  /** PostgreSQL schema holding vector_outbox and document_chunks. */
  schema: string;
  /** Milvus collections (names on the server) to delete each entry's chunk from. */
  collections: string[];
  /** Entries per transaction (and per Milvus delete). @default 500 */
  batchSize?: number;
  /** Recorded in drained_by. @default `${hostname}:${pid}` */
  drainer?: string;
  progress?: Progress;
}

export interface DrainResult {
  /** Entries this drain marked done. */
  drained: number;
  /** Of those, entries whose chunk exists again (same id re-inserted): marked done without deleting its vectors. */
  skippedRecreated: number;
  /** Entries pending when the drain started. */
  pendingAtStart: number;
}

/**
 * Applies pending outbox entries in id order, `batchSize` per transaction: claim (FOR UPDATE SKIP LOCKED, so a
 * concurrent drain takes other entries), delete the chunks' vectors from every collection, mark the entries done, commit.
 * Bounded: it stops when no entry is left, or after the batches the entries pending at its start need (entries
 * recorded meanwhile are left to the next drain). `client` needs UPDATE on vector_outbox (the application role).
 */
export async function drainOutbox(
  client: pg.Client,
  milvus: MilvusClient,
  options: DrainOptions,
): Promise<DrainResult> {
  const batchSize = options.batchSize ?? 500;
  const drainer = options.drainer ?? `${os.hostname()}:${process.pid}`;
  const outbox = `${options.schema}.${TABLES.outbox}`;
  const chunks = `${options.schema}.${TABLES.chunks}`;
  const pendingAtStart = await pendingOutboxCount(client, options.schema);
  const result: DrainResult = { drained: 0, skippedRecreated: 0, pendingAtStart };
  const maxBatches = Math.ceil(pendingAtStart / batchSize) + 1;
  for (let batch = 0; batch < maxBatches; batch++) {
    await client.query('BEGIN');
    try {
      const { rows } = await client.query<{ id: string; chunk_id: string; recreated: boolean }>(
        `SELECT o.id, o.chunk_id, EXISTS (SELECT 1 FROM ${chunks} c WHERE c.id = o.chunk_id) AS recreated
           FROM ${outbox} o WHERE o.done_at IS NULL ORDER BY o.id LIMIT $1 FOR UPDATE OF o SKIP LOCKED`,
        [batchSize],
      );
      if (rows.length === 0) {
        await client.query('COMMIT');
        break;
      }
      const gone = rows.filter((r) => !r.recreated);
      const recreated = rows.filter((r) => r.recreated);
      const ids = [...new Set(gone.map((r) => r.chunk_id))];
      for (const collection of options.collections) await deleteChunkVectors(milvus, collection, ids);
      const mark = (entries: typeof rows, appliedTo: string[]) =>
        entries.length === 0
          ? Promise.resolve(0)
          : client
              .query(
                `UPDATE ${outbox} SET done_at = now(), applied_to = $2, drained_by = $3
                  WHERE id = ANY($1::bigint[]) AND done_at IS NULL`,
                [entries.map((r) => r.id), appliedTo, drainer],
              )
              .then((r) => r.rowCount ?? 0);
      const marked = (await mark(gone, options.collections)) + (await mark(recreated, []));
      await client.query('COMMIT');
      result.drained += marked;
      result.skippedRecreated += recreated.length;
      options.progress?.log(
        `outbox: ${result.drained} of ${pendingAtStart} pending entries applied (${options.collections.join(', ') || 'no collection'})`,
      );
    } catch (error) {
      await client.query('ROLLBACK').catch(() => {});
      throw error;
    }
  }
  return result;
}

/**
 * drainOutbox, then a wait while entries recorded before it started are still pending: a concurrent drain holds them
 * (SKIP LOCKED passed them over) until it commits, or releases them if it dies, and then this one claims them. A repair
 * that stopped at the first drain would compare, and report pendingAfter, while another repair's batch is in flight.
 * Entries recorded after the start are not waited for. Bounded by `timeoutMs` (WaitTimeoutError naming the entries).
 */
export async function drainOutboxSettled(
  client: pg.Client,
  milvus: MilvusClient,
  options: DrainOptions & { timeoutMs: number },
): Promise<DrainResult> {
  const last = await lastPendingOutboxId(client, options.schema);
  const result = await drainOutbox(client, milvus, options);
  if (last === null) return result;
  let told = false;
  await waitFor(
    `outbox entries of ${options.schema} up to id ${last}, held by another drain`,
    async () => {
      const held = await pendingOutboxCount(client, options.schema, last);
      if (held === 0) return true;
      if (!told) options.progress?.log(`outbox: ${held} entries held by another drain: waiting`);
      told = true;
      const again = await drainOutbox(client, milvus, options);
      result.drained += again.drained;
      result.skippedRecreated += again.skippedRecreated;
      return { waiting: `${held} entries held by another drain` };
    },
    { timeoutMs: options.timeoutMs, intervalMs: 200 },
  );
  return result;
}
