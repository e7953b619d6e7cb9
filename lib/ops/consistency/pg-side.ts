// The PostgreSQL side of the check: chunk ids in id order (keyset pagination on the primary key), orphaned chunks, the
// outbox, look-ups that confirm a difference before it is counted, and the one repair PostgreSQL gets.
import type pg from 'pg';
import { waitFor } from '../../util/poll.js';
import type { ChunkRow } from './merge.js';
import { ConsistencyError, REEMBED_STATUS, TABLES } from './types.js';

/** A canonical (lower-case) uuid: the only ids document_chunks.id can print as. */
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

const table = (schema: string, name: string) => `${schema}.${name}`;

/** Fails naming what is missing when the schema lacks a table the check needs (not bootstrapped, or before 0004). */
export async function requireTables(client: pg.Client, schema: string): Promise<void> {
  const names = Object.values(TABLES);
  const { rows } = await client.query<{ name: string }>(
    `SELECT n AS name FROM unnest($1::text[]) n WHERE to_regclass($2 || '.' || n) IS NULL`,
    [names, schema],
  );
  if (rows.length > 0)
    throw new ConsistencyError(`postgres schema ${schema} lacks the data model's tables`, {
      problems: rows.map((r) => `table ${schema}.${r.name} does not exist`),
      remedy: `run: npm run bootstrap${schema === 'public' ? '' : ` -- --schema ${schema}`} (migration 0004_vector_outbox.sql adds ${TABLES.outbox})`,
    });
}

/**
 * Every chunk's id and whether it is marked embedded, in id order, `pageSize` rows per query: each page starts after
 * the last id of the previous one (an index range scan on the primary key), so memory stays one page and no query
 * holds a snapshot for the whole scan. A page travels as one text value (`id+` embedded, `id-` not, comma-separated),
 * which the server builds from the ordered rows: a third of the time and far less garbage than a row object per chunk.
 */
export async function* chunkPages(
  client: pg.Client,
  schema: string,
  pageSize: number,
): AsyncGenerator<ChunkRow[]> {
  const page = (after: string) =>
    `SELECT string_agg(id::text || CASE WHEN embedding_status = 'embedded' THEN '+' ELSE '-' END, ',' ORDER BY id)
       FROM (SELECT id, embedding_status FROM ${table(schema, TABLES.chunks)} ${after} ORDER BY id LIMIT $1) p`;
  let last: string | undefined;
  for (;;) {
    const { rows } = await client.query<[string | null]>({
      text: last === undefined ? page('') : page('WHERE id > $2'),
      values: last === undefined ? [pageSize] : [pageSize, last],
      rowMode: 'array',
    });
    const text = rows[0]?.[0];
    if (!text) return;
    const chunks = text.split(',').map((item) => ({
      id: item.slice(0, -1),
      embedded: item.endsWith('+'),
    }));
    yield chunks;
    if (chunks.length < pageSize) return;
    last = chunks[chunks.length - 1]!.id;
  }
}

/** Chunks whose document is gone: impossible while the foreign key holds, found when it was bypassed or dropped. */
export async function orphanedChunks(
  client: pg.Client,
  schema: string,
  sampleSize: number,
): Promise<{ found: number; sample: string[] }> {
  const where = `FROM ${table(schema, TABLES.chunks)} c
    WHERE NOT EXISTS (SELECT 1 FROM ${table(schema, TABLES.documents)} d WHERE d.id = c.document_id)`;
  const { rows } = await client.query<{ found: number }>(`SELECT count(*)::int AS found ${where}`);
  const found = rows[0]!.found;
  if (found === 0) return { found, sample: [] };
  const sample = await client.query<{ id: string }>(`SELECT c.id ${where} ORDER BY c.id LIMIT $1`, [
    sampleSize,
  ]);
  return { found, sample: sample.rows.map((r) => r.id) };
}

/** Pending outbox entries; with `upToId`, only those recorded up to that entry. */
export async function pendingOutboxCount(
  client: pg.Client,
  schema: string,
  upToId?: string,
): Promise<number> {
  const { rows } = await client.query<{ pending: number }>(
    `SELECT count(*)::int AS pending FROM ${table(schema, TABLES.outbox)}
      WHERE done_at IS NULL${upToId === undefined ? '' : ' AND id <= $1'}`,
    upToId === undefined ? [] : [upToId],
  );
  return rows[0]!.pending;
}

/** The id of the newest pending outbox entry; null when none is pending. */
export async function lastPendingOutboxId(client: pg.Client, schema: string): Promise<string | null> {
  const { rows } = await client.query<{ last: string | null }>(
    `SELECT max(id)::text AS last FROM ${table(schema, TABLES.outbox)} WHERE done_at IS NULL`,
  );
  return rows[0]!.last;
}

/** Which of `ids` are chunks now (ids that are not canonical uuids cannot be). */
export async function existingChunkIds(
  client: pg.Client,
  schema: string,
  ids: string[],
): Promise<Set<string>> {
  return idSubset(client, `SELECT id FROM ${table(schema, TABLES.chunks)} WHERE id = ANY($1::uuid[])`, ids);
}

/** Which of `ids` have an outbox entry still pending: their vectors are due to go, not orphans. */
export async function pendingOutboxIds(
  client: pg.Client,
  schema: string,
  ids: string[],
): Promise<Set<string>> {
  return idSubset(
    client,
    `SELECT DISTINCT chunk_id AS id FROM ${table(schema, TABLES.outbox)}
      WHERE done_at IS NULL AND chunk_id = ANY($1::uuid[])`,
    ids,
  );
}

/** Which of `ids` are chunks still marked embedded (the rest changed since they were read). */
export async function embeddedChunkIds(
  client: pg.Client,
  schema: string,
  ids: string[],
): Promise<Set<string>> {
  return idSubset(
    client,
    `SELECT id FROM ${table(schema, TABLES.chunks)} WHERE id = ANY($1::uuid[]) AND embedding_status = 'embedded'`,
    ids,
  );
}

/** The ids among `ids` (only well-formed UUIDs are asked about) that `sql` returns; `sql` takes them as $1 uuid[]. */
async function idSubset(client: pg.Client, sql: string, ids: string[]): Promise<Set<string>> {
  const candidates = ids.filter((id) => UUID.test(id));
  if (candidates.length === 0) return new Set();
  const { rows } = await client.query<{ id: string }>(sql, [candidates]);
  return new Set(rows.map((r) => r.id));
}

/**
 * Marks embedded chunks for re-embedding (embedding_status 'pending'); only those still marked embedded, so a chunk
 * the embedder touched meanwhile is left alone. Never deletes a row. Returns how many were marked.
 */
export async function markForReembedding(client: pg.Client, schema: string, ids: string[]): Promise<number> {
  const result = await client.query(
    `UPDATE ${table(schema, TABLES.chunks)} SET embedding_status = $2
      WHERE id = ANY($1::uuid[]) AND embedding_status = 'embedded'`,
    [ids, REEMBED_STATUS],
  );
  return result.rowCount ?? 0;
}

/**
 * Runs `work` holding a session advisory lock on `key` (one repair per schema and prefix at a time; a second waits,
 * then finds what the first left). Waits at most `timeoutMs`.
 */
export async function withAdvisoryLock<T>(
  client: pg.Client,
  key: string,
  work: () => Promise<T>,
  options: { timeoutMs: number; onWait?: () => void },
): Promise<T> {
  let told = false;
  await waitFor(
    `the repair lock ${key} (another repair of this schema and prefix holds it)`,
    async () => {
      const { rows } = await client.query<{ locked: boolean }>(
        'SELECT pg_try_advisory_lock(hashtextextended($1, 0)) AS locked',
        [key],
      );
      if (rows[0]!.locked) return true;
      if (!told) options.onWait?.();
      told = true;
      return { waiting: 'held by another session' };
    },
    { timeoutMs: options.timeoutMs, intervalMs: 250 },
  );
  try {
    return await work();
  } finally {
    await client.query('SELECT pg_advisory_unlock(hashtextextended($1, 0))', [key]).catch(() => {});
  }
}
