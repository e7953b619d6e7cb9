import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type ChromaInstallRecord, type ChromaVersion, findChromaInstall } from '../../lib/setup/chroma.js';
import type { RunningStack } from '../../lib/stack/running-stack.js';
import { ChromaClient } from '../../lib/transfer/chroma-api.js';
import { type ChromaServer, startChromaServer } from '../../lib/transfer/chroma-server.js';
import {
  type ChromaSpace,
  milvusCollection,
  PG_CATALOG,
  PG_SCHEMA,
  pgTable,
} from '../../lib/transfer/model.js';
import { openTransferClient } from '../../lib/transfer/pgvector-sink.js';
import { DEFAULT_DATASET_DIR, loadDataset } from '../../lib/verify/dataset.js';
import { row } from '../../lib/verify/vectors.js';

/** The Chroma venvs `npm run setup -- --tests` installs; a missing one fails the test run (never skipped). */
export async function requireChroma(version: ChromaVersion): Promise<ChromaInstallRecord> {
  const install = await findChromaInstall(version);
  if (!install)
    throw new Error(`Chroma ${version} is not installed: run npm run setup -- --tests (step chroma)`);
  return install;
}

/** A Chroma server of `version` on an empty scratch directory (kept after stop() when `keep`, for --from-dir tests). */
export async function startScratchChroma(
  version: ChromaVersion,
  options: { keep?: boolean } = {},
): Promise<{ server: ChromaServer; dir: string; client: ChromaClient }> {
  const install = await requireChroma(version);
  const dir = mkdtempSync(path.join(os.tmpdir(), `vs-chroma-${version}-`));
  const server = await startChromaServer(install, { dataDir: dir, removeOnStop: options.keep ? [] : [dir] });
  return { server, dir, client: await ChromaClient.connect(server.url) };
}

/** Deterministic pseudo-random numbers (LCG), so failures reproduce. */
export function random(seed: number): () => number {
  let s = seed;
  return () => {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    return s / 2 ** 31;
  };
}

/**
 * A generated collection: ids with non-ASCII characters, documents with tabs, newlines and Unicode (some missing),
 * metadata of every scalar type, some records without metadata, and (Chroma 1.x, which stores them) array values.
 * Chroma has no nested objects in metadata (0.4.x silently drops them, 1.x refuses them), so arrays are the nesting.
 */
export async function seedGenerated(
  client: ChromaClient,
  name: string,
  space: ChromaSpace,
  options: { count?: number; dimension?: number; arrays?: boolean; everyRecordHasMetadata?: boolean } = {},
) {
  const count = options.count ?? 240;
  const dimension = options.dimension ?? 16;
  const rnd = random(name.length * 7919 + dimension);
  // 0.4.x reads hnsw:search_ef from metadata (default 10); 1.x defaults ef_search to 100.
  const collection = await client.createCollection(name, {
    'hnsw:space': space,
    'hnsw:search_ef': 100,
    source: 'vectorstack test',
  });
  for (let start = 0; start < count; start += 100) {
    const ids: string[] = [];
    const embeddings: number[][] = [];
    const documents: (string | null)[] = [];
    const metadatas: (Record<string, unknown> | null)[] = [];
    for (let i = start; i < Math.min(start + 100, count); i++) {
      ids.push(i % 3 === 0 ? `ид-${i}-ü` : i % 3 === 1 ? `文書/${i} 🚀` : `doc "${i}"\\tab`);
      embeddings.push(
        Array.from({ length: dimension }, () => (rnd() - 0.5) * (space === 'ip' ? 1 + (i % 5) : 2)),
      );
      documents.push(i % 4 === 0 ? null : `Dokument ${i}:\tZeile\nzwei — ${'é'.repeat(i % 5)}`);
      if (i % 5 === 0 && !options.everyRecordHasMetadata) metadatas.push(null);
      else
        metadatas.push({
          lang: ['de', 'fr', 'ja'][i % 3],
          year: 2000 + (i % 25),
          score: Math.round(rnd() * 1000) / 1000 + 0.5,
          draft: i % 2 === 0,
          ...(i % 7 === 0 ? { 'key with space.and-dot': 'ü' } : {}),
          ...(options.arrays ? { tags: [`t${i % 3}`, `u${i % 2}`], ranks: [i, i + 1] } : {}),
        });
    }
    await client.add(collection, { ids, embeddings, documents, metadatas });
  }
  return collection;
}

/** The first `count` SIFT10K base vectors as collection `name` (l2), ids `sift-<row>`. */
export async function seedSift(client: ChromaClient, name: string, count = 2000) {
  const { base } = loadDataset(DEFAULT_DATASET_DIR, { baseLimit: count, queryLimit: 1 });
  const collection = await client.createCollection(name, { 'hnsw:space': 'l2', 'hnsw:search_ef': 100 });
  for (let start = 0; start < base.count; start += 500) {
    const ids: string[] = [];
    const embeddings: number[][] = [];
    for (let i = start; i < Math.min(start + 500, base.count); i++) {
      ids.push(`sift-${i}`);
      embeddings.push(Array.from(row(base, i)));
    }
    await client.add(collection, { ids, embeddings });
  }
  return collection;
}

/** Removes what imports of `names` created in the shared stack. */
export async function dropImported(stack: RunningStack, names: string[]): Promise<void> {
  await stack.with(openTransferClient(stack), async (pg) => {
    for (const name of names) await pg.query(`DROP TABLE IF EXISTS ${PG_SCHEMA}."${pgTable(name)}"`);
    if ((await pg.query(`SELECT to_regclass('${PG_SCHEMA}.${PG_CATALOG}') AS t`)).rows[0].t)
      await pg.query(`DELETE FROM ${PG_SCHEMA}.${PG_CATALOG} WHERE chroma_name = ANY($1)`, [names]);
  });
  await stack.with(stack.milvus(), async (milvus) => {
    for (const name of names)
      await milvus.dropCollection({ collection_name: milvusCollection(name) }).catch(() => {});
  });
}
