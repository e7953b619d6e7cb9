// The reference data model on real Milvus engines: the milvus-lite 2.5 C++ engine (test image, started here) with
// sparse, BM25 and multi-vector collections, hybrid and max-sim search; and the shared stack's Milvus 2.3.5, where the
// same specs yield the dense collections only, with a warning per skipped collection.
import { existsSync, readFileSync } from 'node:fs';
import type { MilvusClient } from '@zilliz/milvus2-sdk-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { $ } from 'zx';
import { planMilvus } from '../../lib/bootstrap/milvus.js';
import { connectMilvus } from '../../lib/clients.js';
import { BOOTSTRAP_FEATURES, detectMilvusCapabilities } from '../../lib/milvus/capabilities.js';
import { hybridSearch, multiVectorSearch, tokenRows } from '../../lib/milvus/search.js';
import { checkStatus } from '../../lib/milvus/status.js';
import { imagesFile } from '../../lib/paths.js';
import { MILVUS_LITE_VERSION } from '../../lib/setup/offline-images.js';
import { waitFor } from '../../lib/util/poll.js';
import {
  buildAndLoad,
  insertBatches,
  searchIds,
  searchManyIds,
  withScratchCollection,
} from '../../lib/verify/milvus-store.js';
import {
  MILVUS_COLLECTIONS as C,
  MILVUS_FIELDS as F,
  milvusCollectionSpecs,
} from '../../schemas/milvus/collections.js';
import { testConfig } from '../unit/helpers.js';
import { openSharedStack } from './shared-stack.js';

$.quiet = true;

/** The milvus-lite test image `npm run setup -- --tests` built; a missing or outdated one fails the run. */
function milvusLiteImage(): string {
  const file = imagesFile();
  const tag = existsSync(file)
    ? (JSON.parse(readFileSync(file, 'utf8')) as { testImages?: Record<string, string> }).testImages?.[
        'milvus-lite'
      ]
    : undefined;
  if (tag !== `vectorstack-offline/milvus-lite:${MILVUS_LITE_VERSION}`)
    throw new Error(
      `${file}: testImages["milvus-lite"] is ${tag ?? 'missing'}, expected vectorstack-offline/milvus-lite:${MILVUS_LITE_VERSION}; run: npm run setup -- --tests`,
    );
  return tag;
}

// Own container and host ports (25700-25799): gRPC and /healthz.
const CONTAINER = `vsmilvus-engine-${process.pid}`;
const GRPC_PORT = 25700 + 2 * (process.pid % 50);
const HTTP_PORT = GRPC_PORT + 1;
const DIM = 4;
const config = testConfig('local', { embedding: { dimension: DIM, metric: 'cosine' } });
const specs = milvusCollectionSpecs(config, { tokenDimension: DIM, tokenMetric: 'cosine' });

const healthz = async () => {
  try {
    const response = await fetch(`http://127.0.0.1:${HTTP_PORT}/healthz`, {
      signal: AbortSignal.timeout(8000),
    });
    return { status: response.status, body: await response.text() };
  } catch (error) {
    return { status: 0, body: (error as Error).message };
  }
};

/** Hybrid-search fixture: d2 is second in both legs and must win RRF over each leg's own winner. */
const HYBRID_ROWS = [
  { id: 'd1', dense: [1, 0, 0, 0], sparse: { 1: 1 } },
  { id: 'd2', dense: [0.8, 0.6, 0, 0], sparse: { 1: 0.5, 2: 0.6 } },
  { id: 'd3', dense: [0.1, 0, 0.99, 0], sparse: { 2: 1 } },
  { id: 'd4', dense: [0.5, 0.5, 0.5, 0.5], sparse: { 5: 1 } },
];
const DENSE_QUERY = [1, 0, 0, 0];
const SPARSE_QUERY = { 2: 1 };
/** Multi-vector fixture: m1 holds the single best token for q1, but m2 matches both query tokens well. */
const QUERY_TOKENS = [
  [1, 0, 0, 0],
  [0, 1, 0, 0],
];
const TOKEN_CHUNKS: Record<string, number[][]> = {
  m1: [
    [1, 0, 0, 0],
    [0, 0, 1, 0],
  ],
  m2: [
    [0.8, 0.6, 0, 0],
    [0.6, 0.8, 0, 0],
  ],
  m3: [
    [0, 0, 0, 1],
    [0.3, 0, 0, 0.95],
  ],
};
const chunkRow = (id: string) => ({
  chunk_id: id,
  document_id: `doc-${id}`,
  source_type: 'test',
  language: 'en',
  chunk_position: 0,
  created_timestamp: 0,
});

describe('the milvus-lite 2.5 engine (test image)', () => {
  const prefix = 'eng_';
  let client: MilvusClient;

  beforeAll(async () => {
    const image = milvusLiteImage();
    await $({ nothrow: true })`docker rm -f -v ${CONTAINER}`;
    await $`docker run -d --name ${CONTAINER} -p ${`127.0.0.1:${GRPC_PORT}:19530`} -p ${`127.0.0.1:${HTTP_PORT}:9091`} ${image}`;
    await waitFor(
      `milvus-lite container ${CONTAINER} /healthz`,
      async () => {
        const h = await healthz();
        return h.status === 200 || { waiting: `${h.status} ${h.body}` };
      },
      { timeoutMs: 60_000, intervalMs: 250 },
    );
    // The engine has no authentication: any credentials are accepted.
    client = await connectMilvus({
      host: '127.0.0.1',
      port: GRPC_PORT,
      username: 'root',
      password: 'unused',
    });
  });

  afterAll(async () => {
    await client?.closeConnection();
    await $({ nothrow: true })`docker rm -f -v ${CONTAINER}`;
  });

  it('runs as the non-root milvus user with its data under /var/lib/milvus, and /healthz follows the gRPC side', async () => {
    expect((await $`docker exec ${CONTAINER} id -u`).stdout.trim()).toBe('999');
    expect((await $`docker exec ${CONTAINER} ls /var/lib/milvus/milvus-lite`).stdout).toContain('milvus.db');
    expect(await healthz()).toEqual({ status: 200, body: 'OK' });
    const engine = (await $`docker top ${CONTAINER} -eo pid,args`).stdout
      .split('\n')
      .find((line) => /engine\/milvus /.test(line))
      ?.trim()
      .split(/\s+/)[0];
    expect(engine).toMatch(/^\d+$/);
    await $`kill -STOP ${engine!}`;
    try {
      expect(await healthz()).toEqual({ status: 500, body: 'Unhealthy' });
    } finally {
      await $`kill -CONT ${engine!}`;
    }
    expect((await healthz()).status).toBe(200);
  });

  it('reports what the engine can do, as the engine answers', async () => {
    const caps = await detectMilvusCapabilities(client, {
      features: [...BOOTSTRAP_FEATURES, 'hybridSearch'],
      prefix,
    });
    expect(caps.version).toBeNull(); // GetVersion is not implemented
    expect(caps.features).toEqual({
      denseHnsw: {
        supported: false,
        detail: expect.stringMatching(
          /invalid index type: HNSW, local mode only support FLAT IVF_FLAT AUTOINDEX/,
        ),
      },
      scalarDefaultIndex: { supported: true, detail: 'scalar index without a type created' },
      sparseVectors: { supported: true, detail: 'SPARSE_INVERTED_INDEX (IP) created' },
      bm25Function: { supported: true, detail: 'BM25 function and BM25 index created' },
      structArrayVectors: {
        supported: false,
        detail: 'the server did not keep the Array of Struct field (no native multi-vector type)',
      },
      hybridSearch: { supported: true, detail: 'HybridSearch with an RRF ranker returned hits' },
    });
    // Probe collections are gone.
    const listed = await client.listCollections();
    expect(listed.data.map((c) => c.name).filter((n) => n.includes('vsprobe_'))).toEqual([]);
  });

  it('bootstraps sparse, BM25 and token-row multi-vector collections, then plans nothing', async () => {
    const plan = await planMilvus({ client, collections: specs, prefix, allowRecreate: false });
    expect(plan.serverVersion).toBe('unknown (GetVersion not implemented)');
    expect(plan.actions.filter((a) => a.kind === 'create-collection').map((a) => a.target)).toEqual([
      `${prefix}${C.dense}`,
      `${prefix}${C.sparse}`,
      `${prefix}${C.bm25}`,
      `${prefix}${C.tokens}`,
    ]);
    expect(plan.actions.find((a) => a.target === `${prefix}${C.dense}.embedding`)!.detail).toBe(
      'AUTOINDEX COSINE',
    );
    expect(plan.warnings).toEqual([
      expect.stringMatching(/^eng_rag_chunks\.embedding: HNSW refused by this server .*AUTOINDEX instead/),
      expect.stringMatching(
        /^collection eng_rag_chunks_multivector needs structArrayVectors, which this Milvus server \(version unknown\) lacks .*: skipped; eng_rag_chunk_tokens serves instead$/,
      ),
      expect.stringMatching(/^eng_rag_chunk_tokens\.embedding: HNSW refused by this server/),
    ]);
    for (const action of plan.actions) await plan.execute(action);

    const again = await planMilvus({ client, collections: specs, prefix, allowRecreate: false });
    expect(again.actions).toEqual([]);
    expect(again.drift).toEqual([]);

    const bm25 = await client.describeCollection({ collection_name: `${prefix}${C.bm25}` });
    expect(bm25.schema.fields.find((f) => f.name === F.bm25)!.is_function_output).toBe(true);
    const indexes = await client.describeIndex({ collection_name: `${prefix}${C.sparse}` });
    expect(
      indexes.index_descriptions
        .find((d) => d.field_name === F.sparse)!
        .params.map((p) => `${p.key}=${p.value}`),
    ).toEqual(expect.arrayContaining(['index_type=SPARSE_INVERTED_INDEX', 'metric_type=IP']));
  });

  it('stores and searches application-fed sparse vectors', async () => {
    const insert = await client.insert({
      collection_name: `${prefix}${C.sparse}`,
      data: HYBRID_ROWS.map((r) => ({ ...chunkRow(r.id), [F.sparse]: r.sparse })),
    });
    checkStatus(insert.status, 'insert sparse');
    const found = await client.search({
      collection_name: `${prefix}${C.sparse}`,
      anns_field: F.sparse,
      data: { 2: 1, 1: 0.1 },
      limit: 10,
      output_fields: [F.chunkId],
    });
    checkStatus(found.status, 'search sparse');
    // IP: d3 = 1.0, d2 = 0.6 + 0.05, d1 = 0.1; d4 shares no dimension and is not a hit.
    expect(found.results.map((r) => r.chunk_id)).toEqual(['d3', 'd2', 'd1']);
    expect(found.results[1]!.score).toBeCloseTo(0.65, 5);
  });

  it('ranks chunk text with the server-side BM25 function', async () => {
    const texts: Record<string, string> = {
      b1: 'milvus stores dense vectors for semantic search',
      b2: 'bm25 ranks documents by term frequency and inverse document frequency',
      b3: 'hybrid search fuses bm25 and dense vectors with reciprocal rank fusion',
    };
    const insert = await client.insert({
      collection_name: `${prefix}${C.bm25}`,
      data: Object.entries(texts).map(([id, text]) => ({ ...chunkRow(id), [F.text]: text })),
    });
    checkStatus(insert.status, 'insert bm25');
    const found = await client.search({
      collection_name: `${prefix}${C.bm25}`,
      anns_field: F.bm25,
      data: 'reciprocal rank fusion bm25',
      limit: 10,
      output_fields: [F.chunkId],
    });
    checkStatus(found.status, 'search bm25');
    expect(found.results.map((r) => r.chunk_id)).toEqual(['b3', 'b2']);
  });

  it('fuses dense and sparse legs (separate collections: client-side RRF and weights)', async () => {
    checkStatus(
      (
        await client.insert({
          collection_name: `${prefix}${C.dense}`,
          data: HYBRID_ROWS.map((r) => ({ ...chunkRow(r.id), [F.dense]: r.dense })),
        })
      ).status,
      'insert dense',
    );
    const legs = [
      { collection: `${prefix}${C.dense}`, annsField: F.dense, data: DENSE_QUERY, metric: 'COSINE' as const },
      { collection: `${prefix}${C.sparse}`, annsField: F.sparse, data: SPARSE_QUERY, metric: 'IP' as const },
    ];
    const rrf = await hybridSearch(client, { legs, limit: 4 });
    expect(rrf).toMatchObject({
      fusion: 'client',
      ranker: 'rrf',
      reason: 'the legs search different collections',
    });
    // dense: d1 d2 d4 d3; sparse: d3 d2 → d2 = 2/62 beats d3 = 1/61 + 1/64 and d1 = 1/61.
    expect(rrf.hits.map((h) => h.id)).toEqual(['d2', 'd3', 'd1', 'd4']);
    expect(rrf.hits[0]!.score).toBeCloseTo(2 / 62, 9);

    const weighted = await hybridSearch(client, {
      legs,
      limit: 2,
      ranker: { type: 'weighted', weights: [0.9, 0.1] },
    });
    expect(weighted.ranker).toBe('weighted');
    expect(weighted.hits.map((h) => h.id)).toEqual(['d1', 'd2']);
  });

  it('fuses on the server when both legs are fields of one collection', async () => {
    const name = `${prefix}hybrid_one_collection`;
    checkStatus(
      await client.createCollection({
        collection_name: name,
        fields: [
          { name: F.chunkId, data_type: 'VarChar', is_primary_key: true, max_length: 64 },
          { name: F.dense, data_type: 'FloatVector', dim: DIM },
          { name: F.sparse, data_type: 'SparseFloatVector' },
        ],
      }),
      'create hybrid collection',
    );
    checkStatus(
      await client.createIndex({
        collection_name: name,
        field_name: F.dense,
        index_type: 'AUTOINDEX',
        metric_type: 'COSINE',
      }),
      'index dense',
    );
    checkStatus(
      await client.createIndex({
        collection_name: name,
        field_name: F.sparse,
        index_type: 'SPARSE_INVERTED_INDEX',
        metric_type: 'IP',
      }),
      'index sparse',
    );
    checkStatus(
      (
        await client.insert({
          collection_name: name,
          data: HYBRID_ROWS.map((r) => ({ chunk_id: r.id, [F.dense]: r.dense, [F.sparse]: r.sparse })),
        })
      ).status,
      'insert hybrid',
    );
    checkStatus(await client.loadCollection({ collection_name: name }), 'load hybrid');
    const result = await hybridSearch(client, {
      legs: [
        { collection: name, annsField: F.dense, data: DENSE_QUERY, metric: 'COSINE' },
        { collection: name, annsField: F.sparse, data: SPARSE_QUERY, metric: 'IP' },
      ],
      limit: 4,
    });
    expect(result).toMatchObject({ fusion: 'server', ranker: 'rrf' });
    expect(result.hits.map((h) => h.id)).toEqual(['d2', 'd3', 'd1', 'd4']);
    expect(result.hits[0]!.score).toBeCloseTo(2 / 62, 5);
  });

  it('ranks chunks by max-sim over token rows, not by their single best token', async () => {
    const rows = Object.entries(TOKEN_CHUNKS).flatMap(([id, vectors]) =>
      tokenRows({ chunkId: id, documentId: `doc-${id}` }, vectors),
    );
    checkStatus(
      (await client.insert({ collection_name: `${prefix}${C.tokens}`, data: rows })).status,
      'insert tokens',
    );
    const result = await multiVectorSearch(client, { prefix, query: QUERY_TOKENS, limit: 3 });
    expect(result.mode).toBe('token-rows');
    expect(result.candidates).toBe(3);
    expect(result.hits.map((h) => h.id)).toEqual(['m2', 'm1', 'm3']);
    expect(result.hits[0]!.score).toBeCloseTo(1.6, 5);
    expect(result.hits[1]!.score).toBeCloseTo(1.0, 5);
    // A filter narrows the candidate token rows.
    const filtered = await multiVectorSearch(client, {
      prefix,
      query: QUERY_TOKENS,
      limit: 3,
      filter: 'document_id != "doc-m2"',
    });
    expect(filtered.hits.map((h) => h.id)).toEqual(['m1', 'm3']);
  });
});

describe('the shared stack’s Milvus 2.3.5', () => {
  const prefix = `e235_${process.pid % 100000}_`;
  let client: MilvusClient;
  let close: () => Promise<void>;

  beforeAll(async () => {
    const stack = await openSharedStack();
    client = await stack.milvus();
    close = () => stack.close();
  });

  afterAll(async () => {
    for (const spec of specs)
      await client?.dropCollection({ collection_name: prefix + spec.name }).catch(() => {});
    await client?.closeConnection();
    await close?.();
  });

  it('gets the dense collections only, and a warning naming each skipped collection and the missing capability', async () => {
    const plan = await planMilvus({ client, collections: specs, prefix, allowRecreate: false });
    expect(plan.serverVersion).toMatch(/^v?2\.3\.5/);
    expect(plan.capabilities.features).toMatchObject({
      denseHnsw: { supported: true },
      scalarDefaultIndex: { supported: true },
      sparseVectors: { supported: false },
      bm25Function: { supported: false },
      structArrayVectors: { supported: false },
    });
    expect(plan.actions.filter((a) => a.kind === 'create-collection').map((a) => a.target)).toEqual([
      `${prefix}${C.dense}`,
      `${prefix}${C.tokens}`,
    ]);
    expect(plan.warnings).toEqual([
      expect.stringMatching(
        new RegExp(
          `^collection ${prefix}rag_chunks_sparse needs sparseVectors, which Milvus v?2\\.3\\.5(-lite)? lacks \\(sparseVectors: create index on 104 field is not supported.*\\): skipped$`,
        ),
      ),
      expect.stringMatching(
        new RegExp(
          `^collection ${prefix}rag_chunks_bm25 needs bm25Function, which Milvus v?2\\.3\\.5(-lite)? lacks \\(bm25Function: .+\\): skipped$`,
        ),
      ),
      expect.stringMatching(
        new RegExp(
          `^collection ${prefix}rag_chunks_multivector needs structArrayVectors, which Milvus v?2\\.3\\.5(-lite)? lacks \\(structArrayVectors: the server did not keep the Array of Struct field.*\\): skipped; ${prefix}rag_chunk_tokens serves instead$`,
        ),
      ),
    ]);
    for (const action of plan.actions) await plan.execute(action);
    expect((await planMilvus({ client, collections: specs, prefix, allowRecreate: false })).actions).toEqual(
      [],
    );

    // The token-row fallback works on the old server too.
    const rows = Object.entries(TOKEN_CHUNKS).flatMap(([id, vectors]) =>
      tokenRows({ chunkId: id, documentId: `doc-${id}` }, vectors),
    );
    checkStatus(
      (await client.insert({ collection_name: `${prefix}${C.tokens}`, data: rows })).status,
      'insert tokens',
    );
    const result = await waitFor(
      'the inserted token rows to be searchable (bounded consistency)',
      async () => {
        const r = await multiVectorSearch(client, {
          prefix,
          query: QUERY_TOKENS,
          limit: 3,
          capabilities: plan.capabilities,
        });
        return r.hits.length === 3 ? r : { waiting: `${r.hits.length} hits` };
      },
      { timeoutMs: 30_000, intervalMs: 500 },
    );
    expect(result.mode).toBe('token-rows');
    expect(result.hits.map((h) => h.id)).toEqual(['m2', 'm1', 'm3']);
  });

  it('answers several queries in one search request (nq) as it answers each alone', async () => {
    const name = `${prefix}nq`;
    const dimension = 8;
    const values = Float32Array.from({ length: 300 * dimension }, (_, i) => Math.sin(i * 0.37) + (i % 7));
    const vectors = { file: '', count: 300, dimension, values };
    await withScratchCollection(client, name, dimension, async () => {
      await insertBatches(client, name, vectors, 100);
      await client.flushSync({ collection_names: [name] });
      await buildAndLoad(client, name, 'FLAT', {});
      const queries = [3, 150, 299].map((r) =>
        Array.from(values.subarray(r * dimension, (r + 1) * dimension)),
      );
      const alone = [];
      for (const q of queries) alone.push(await searchIds(client, name, q, 5, {}));
      expect(alone.map((ids) => ids[0])).toEqual([3, 150, 299]);
      expect(await searchManyIds(client, name, queries, 5, {})).toEqual(alone);
      expect(await searchManyIds(client, name, queries.slice(1, 2), 5, {})).toEqual([alone[1]]);
    });
  });
});
