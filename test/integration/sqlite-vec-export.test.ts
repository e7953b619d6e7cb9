import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningStack } from '../../lib/stack/running-stack.js';
import type { ChromaServer } from '../../lib/transfer/chroma-server.js';
import { ChromaSource } from '../../lib/transfer/chroma-source.js';
import { runImport } from '../../lib/transfer/import.js';
import { MilvusSink } from '../../lib/transfer/milvus-sink.js';
import { targetIdentifier } from '../../lib/transfer/model.js';
import { openTransferClient, PgvectorSink } from '../../lib/transfer/pgvector-sink.js';
import {
  exportToSqliteVec,
  openSqliteVec,
  queryVector,
  sqliteVecSearch,
} from '../../lib/transfer/sqlite-vec-export.js';
import { Progress } from '../../lib/util/progress.js';
import { DEFAULT_DATASET_DIR, loadDataset } from '../../lib/verify/dataset.js';
import { meanRecall } from '../../lib/verify/recall-math.js';
import { row } from '../../lib/verify/vectors.js';
import { dropImported, seedGenerated, seedSift, startScratchChroma } from './chroma-fixtures.js';
import { openSharedStack } from './shared-stack.js';

const quiet = new Progress(undefined, !!process.env.VECTORSTACK_TEST_VERBOSE);
const SIFT = 'vsexp-sift2k';
const GENERATED = ['vsexp-ip', 'vsexp-cosine'];
const dataset = loadDataset(DEFAULT_DATASET_DIR, { baseLimit: 2000 });
const out = mkdtempSync(path.join(os.tmpdir(), 'vs-sqlite-vec-'));
let stack: RunningStack;
let server: ChromaServer;

beforeAll(async () => {
  stack = await openSharedStack();
  const chroma = await startScratchChroma('1.5.9');
  server = chroma.server;
  await seedSift(chroma.client, SIFT);
  await seedGenerated(chroma.client, GENERATED[0]!, 'ip', { count: 200, arrays: true });
  await seedGenerated(chroma.client, GENERATED[1]!, 'cosine', {
    count: 200,
    arrays: true,
    everyRecordHasMetadata: true,
  });
  await dropImported(stack, [SIFT, ...GENERATED]);
  const source = await ChromaSource.open({ url: server.url });
  try {
    const report = await runImport(
      source,
      [new PgvectorSink(await openTransferClient(stack)), new MilvusSink(await stack.milvus())],
      {
        collections: [SIFT, ...GENERATED],
        progress: quiet,
      },
    );
    expect(report.exitCode).toBe(0);
  } finally {
    await source.close();
  }
});

afterAll(async () => {
  await server?.stop();
  if (stack) {
    await dropImported(stack, [SIFT, ...GENERATED]).catch(() => {});
    await stack.close();
  }
  rmSync(out, { recursive: true, force: true });
});

describe.each(['pgvector', 'milvus'] as const)('export from %s to sqlite-vec', (from) => {
  it('writes vec0 tables whose search equals the source exact search, and SIFT recall@10 against the ground truth', async () => {
    const sink =
      from === 'pgvector'
        ? new PgvectorSink(await openTransferClient(stack))
        : new MilvusSink(await stack.milvus());
    const file = path.join(out, `${from}.db`);
    const report = await exportToSqliteVec(sink, {
      out: file,
      collections: [SIFT, ...GENERATED],
      progress: quiet,
    });
    expect(report.ok).toBe(true);
    for (const c of report.collections) {
      expect(c.rows, c.collection).toBe(c.sourceCount);
      expect(c.recall, c.collection).toBe(1);
    }
    const sift = report.collections.find((c) => c.collection === SIFT)!;
    expect(sift).toMatchObject({
      rows: 2000,
      metric: 'l2',
      transform: 'none',
      dimension: 128,
      typedColumns: [],
    });
    const ip = report.collections.find((c) => c.collection === GENERATED[0])!;
    expect(ip).toMatchObject({ metric: 'l2', transform: 'ip-augmented' });
    // Keys present in 4 of 5 records stay in the JSON column (vec0 metadata columns refuse NULL).
    expect(ip.jsonOnlyKeys).toEqual(expect.arrayContaining(['lang', 'tags', 'year']));
    const cosine = report.collections.find((c) => c.collection === GENERATED[1])!;
    expect(cosine.metric).toBe('cosine');
    expect(cosine.typedColumns).toEqual([
      { key: 'draft', column: 'm_draft', type: 'boolean' },
      { key: 'lang', column: 'm_lang', type: 'text' },
      { key: 'score', column: 'm_score', type: 'float' },
      { key: 'year', column: 'm_year', type: 'integer' },
    ]);
    expect(cosine.jsonOnlyKeys).toEqual(['key with space.and-dot', 'ranks', 'tags']);

    // SIFT queries against the recomputed ground truth: sqlite-vec scores what the source's exact search scores.
    const db = openSqliteVec(file, { readonly: true });
    try {
      const queries = Array.from({ length: dataset.queries.count }, (_, q) => row(dataset.queries, q));
      const truthOf = (q: number) => row(dataset.groundTruth, q);
      const edge = queries.map((q) =>
        sqliteVecSearch(db, targetIdentifier(SIFT), queryVector(q, 'none'), 10).map((h) =>
          Number(h.id.slice(5)),
        ),
      );
      const exact = (await sink.exactSearch(SIFT, 'l2', queries, 10)).map((hits) =>
        hits.map((h) => Number(h.id.slice(5))),
      );
      const edgeRecall = meanRecall(edge, truthOf, 10);
      const exactRecall = meanRecall(exact, truthOf, 10);
      expect(edgeRecall).toBe(exactRecall);
      expect(edgeRecall).toBe(1);
      // Typed metadata columns filter inside the KNN query.
      const filtered = db
        .prepare(
          `SELECT id, m_lang FROM "${targetIdentifier(GENERATED[1]!)}" WHERE embedding MATCH ? AND k = 5 AND m_lang = 'ja'`,
        )
        .all(Buffer.from(new Float32Array(16).fill(0.1).buffer)) as { m_lang: string }[];
      expect(filtered.length).toBe(5);
      expect(new Set(filtered.map((r) => r.m_lang))).toEqual(new Set(['ja']));
      const described = db
        .prepare(
          'SELECT chroma_name, space, metric, transform, rows FROM vectorstack_collections ORDER BY chroma_name',
        )
        .all();
      expect(described).toEqual([
        { chroma_name: 'vsexp-cosine', space: 'cosine', metric: 'cosine', transform: 'none', rows: 200 },
        { chroma_name: 'vsexp-ip', space: 'ip', metric: 'l2', transform: 'ip-augmented', rows: 200 },
        { chroma_name: SIFT, space: 'l2', metric: 'l2', transform: 'none', rows: 2000 },
      ]);
    } finally {
      db.close();
    }
  });
});
