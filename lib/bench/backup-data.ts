// Data for the backup tests and benchmark, loaded through the kit's own layout: vectors become documents, chunks and
// chunk embeddings in PostgreSQL (pgvector, HNSW), rows of rag_chunks in Milvus (HNSW), and keys of every Redis type.
// Ids are deterministic UUIDs, so the same vector has the same id in both stores.
import { createHash } from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import { from as copyFrom } from 'pg-copy-streams';
import { MILVUS_COLLECTIONS, MILVUS_FIELDS } from '../../schemas/milvus/collections.js';
import { checkStatus } from '../milvus/status.js';
import type { RunningStack } from '../stack/running-stack.js';
import type { Progress } from '../util/progress.js';
import { type FloatVectors, pgVectorLiteral, rowArray } from '../verify/vectors.js';

/** A UUID derived from a row number (stable across runs and stores). */
export function chunkUuid(i: number): string {
  const h = createHash('sha256').update(`vectorstack-backup-${i}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

export function documentUuid(d: number): string {
  return chunkUuid(-1 - d);
}

/** Chunks per document in the loaded layout. */
const CHUNKS_PER_DOCUMENT = 100;

/** A fixed-seed PRNG (mulberry32): the same sequence on every machine. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * `count` vectors from a base set: the base repeated, each copy after the first perturbed by uniform noise in
 * [-1, 1) per component from a PRNG seeded with `seed` (SIFT components are integers 0..~255, so copies stay
 * realistic and distinct). Deterministic.
 */
export function expandVectors(base: FloatVectors, count: number, seed = 20_261_202): FloatVectors {
  const random = mulberry32(seed);
  const values = new Float32Array(count * base.dimension);
  for (let i = 0; i < count; i++) {
    const from = (i % base.count) * base.dimension;
    const copy = Math.floor(i / base.count);
    for (let j = 0; j < base.dimension; j++)
      values[i * base.dimension + j] = base.values[from + j]! + (copy === 0 ? 0 : random() * 2 - 1);
  }
  return {
    file: `${base.file} expanded to ${count} (seed ${seed})`,
    count,
    dimension: base.dimension,
    values,
  };
}

/** COPY of tab-separated lines into a table, streamed in chunks. */
async function copyLines(
  client: import('pg').Client,
  statement: string,
  count: number,
  line: (i: number) => string,
): Promise<void> {
  const stream = client.query(copyFrom(statement));
  async function* lines() {
    const chunk: string[] = [];
    for (let i = 0; i < count; i++) {
      chunk.push(line(i));
      if (chunk.length === 1000) yield chunk.splice(0).join('');
    }
    if (chunk.length) yield chunk.join('');
  }
  await pipeline(lines(), stream);
}

/** PostgreSQL: one document per 100 vectors, one chunk and one embedding per vector, as the application role. */
export async function loadPostgres(
  stack: RunningStack,
  vectors: FloatVectors,
  progress?: Progress,
): Promise<void> {
  const documents = Math.ceil(vectors.count / CHUNKS_PER_DOCUMENT);
  await stack.with(stack.postgres({ role: 'app' }), async (c) => {
    await c.query('BEGIN');
    await copyLines(
      c,
      'COPY documents (id, source_type, source_id, title, tags, metadata) FROM STDIN',
      documents,
      (d) => `${documentUuid(d)}\tsift\tsift/${d}\tSIFT document ${d}\t{sift,bench}\t{"copy": ${d % 7}}\n`,
    );
    await copyLines(
      c,
      'COPY document_chunks (id, document_id, position, content, milvus_vector_id, embedding_status) FROM STDIN',
      vectors.count,
      (i) =>
        `${chunkUuid(i)}\t${documentUuid(Math.floor(i / CHUNKS_PER_DOCUMENT))}\t${i % CHUNKS_PER_DOCUMENT}\tvector ${i} of the SIFT base\t${chunkUuid(i)}\tembedded\n`,
    );
    await copyLines(
      c,
      'COPY chunk_embeddings (chunk_id, model, embedding) FROM STDIN',
      vectors.count,
      (i) => `${chunkUuid(i)}\tsift-128\t${pgVectorLiteral(vectors, i)}\n`,
    );
    await c.query('COMMIT');
  });
  progress?.log(`postgres: ${documents} document(s), ${vectors.count} chunk(s) and embedding(s) loaded`);
}

/** Milvus: one rag_chunks row per vector (the collection bootstrap created), flushed and loaded. */
export async function loadMilvus(
  stack: RunningStack,
  vectors: FloatVectors,
  progress?: Progress,
): Promise<void> {
  const name = MILVUS_COLLECTIONS.dense;
  await stack.with(stack.milvus(), async (client) => {
    for (let start = 0; start < vectors.count; start += 5000) {
      const end = Math.min(start + 5000, vectors.count);
      const data = [];
      for (let i = start; i < end; i++)
        data.push({
          [MILVUS_FIELDS.chunkId]: chunkUuid(i),
          [MILVUS_FIELDS.dense]: rowArray(vectors, i),
          document_id: documentUuid(Math.floor(i / CHUNKS_PER_DOCUMENT)),
          source_type: 'sift',
          language: 'en',
          chunk_position: i % CHUNKS_PER_DOCUMENT,
          created_timestamp: 1_700_000_000_000 + i,
        });
      const res = await client.insert({ collection_name: name, data });
      checkStatus(res.status, `insert into ${name}`);
    }
    await client.flushSync({ collection_names: [name] });
    checkStatus(await client.loadCollectionSync({ collection_name: name }), `load ${name}`);
  });
  progress?.log(`milvus: ${vectors.count} row(s) in ${name}`);
}

/**
 * Redis: one hash per chunk (a cache entry), plus one key of each other type, one with a time to live, one binary
 * value, and a few keys in database 1.
 */
export async function loadRedis(stack: RunningStack, count: number, progress?: Progress): Promise<void> {
  await stack.with(stack.redis(), async (client) => {
    for (let start = 0; start < count; start += 1000) {
      const multi = client.multi();
      for (let i = start; i < Math.min(start + 1000, count); i++)
        multi.hSet(`chunk:${chunkUuid(i)}`, { position: String(i % CHUNKS_PER_DOCUMENT), store: 'sift' });
      await multi.exec();
    }
    await client.set('session:ttl', 'expires later', { PX: 86_400_000 });
    await client.set(Buffer.from('bin:\u00ff'), Buffer.from([0, 1, 2, 255, 254]));
    await client.rPush('queue:ingest', ['a', 'b', 'c']);
    await client.sAdd('tags', ['sift', 'bench', 'vectors']);
    await client.zAdd('ranking', [
      { score: 1.5, value: 'a' },
      { score: -2, value: 'b' },
      { score: 1e-7, value: 'c' },
    ]);
    await client.xAdd('events', '1-1', { kind: 'loaded', count: String(count) });
    const db1 = client.duplicate();
    await db1.connect();
    try {
      await db1.select(1);
      await db1.set('other-db', 'value');
      await db1.hSet('other-hash', { a: '1' });
    } finally {
      db1.destroy();
    }
  });
  progress?.log(`redis: ${count + 8} key(s) loaded in db0 and db1`);
}

/** All three stores, as the backup test and benchmark load them (the stack must be bootstrapped). */
export async function loadBackupData(
  stack: RunningStack,
  vectors: FloatVectors,
  progress?: Progress,
): Promise<void> {
  await loadPostgres(stack, vectors, progress);
  await loadMilvus(stack, vectors, progress);
  await loadRedis(stack, vectors.count, progress);
}
