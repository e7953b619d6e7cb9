import { afterAll, describe, expect, it } from 'vitest';
import { deepMerge } from '../../lib/config/load.js';
import { Progress } from '../../lib/util/progress.js';
import { DEFAULT_DATASET_DIR, loadDataset } from '../../lib/verify/dataset.js';
import { recallPlot, runRecall } from '../../lib/verify/recall.js';
import { openSharedStack } from './shared-stack.js';

const stack = await openSharedStack();
afterAll(() => stack.close());
// IVF at one probe cannot reach 0.95 recall@10: the gate must fail there and pass for HNSW.
const config = deepMerge(stack.config, {
  postgres: { ivfflat: { probes: 1 } },
  milvus: { ivfFlat: { nprobe: 1 } },
});
// 2,000 SIFT base vectors with ground truth recomputed exactly; only the configured search values.
const dataset = loadDataset(DEFAULT_DATASET_DIR, { baseLimit: 2000 });
const onlyConfigured = {
  pgvectorHnswEfSearch: [],
  pgvectorIvfflatProbes: [],
  milvusHnswEf: [],
  milvusIvfNprobe: [],
};
const quiet = new Progress(undefined, !!process.env.VECTORSTACK_TEST_VERBOSE);

async function scratchLeftovers(): Promise<string[]> {
  const pg = await stack.postgres();
  const milvus = await stack.milvus();
  try {
    const tables = (
      await pg.query<{ t: string }>(
        `SELECT tablename AS t FROM pg_tables WHERE tablename LIKE 'vs_scratch_%'`,
      )
    ).rows;
    const collections = (await milvus.listCollections()).data
      .map((c) => c.name)
      .filter((n) => n.startsWith('vs_scratch_'));
    return [...tables.map((r) => r.t), ...collections];
  } finally {
    await pg.end();
    await milvus.closeConnection();
  }
}

describe('npm run recall on the shared stack', () => {
  it('scores both stores against exact ground truth, gates the configured settings, plots, and drops its scratch data', async () => {
    expect(dataset.groundTruthSource).toBe('recomputed');
    const report = await runRecall(stack, dataset, {
      config,
      sweep: onlyConfigured,
      threshold: 0.95,
      progress: quiet,
    });
    const point = (store: string, index: string, k: number) =>
      report.points.find((p) => p.store === store && p.index === index && p.k === k)!;
    for (const store of ['pgvector', 'milvus']) {
      // An exact scan must return exactly the ground truth: proves ids, distances and scoring line up end to end.
      expect(point(store, 'exact', 10).recall, `${store} exact @10`).toBe(1);
      expect(point(store, 'exact', 100).recall, `${store} exact @100`).toBe(1);
      expect(point(store, 'hnsw', 10).recall, `${store} hnsw @10`).toBeGreaterThanOrEqual(0.95);
      expect(point(store, 'ivfflat', 10).recall, `${store} ivfflat @10 at one probe`).toBeLessThan(0.95);
      expect(point(store, 'hnsw', 10).p95Ms).toBeGreaterThanOrEqual(point(store, 'hnsw', 10).p50Ms);
    }
    expect(report.gates.map((g) => `${g.store} ${g.index} ${g.pass}`)).toEqual([
      'pgvector hnsw true',
      'pgvector ivfflat false',
      'milvus hnsw true',
      'milvus ivfflat false',
    ]);
    expect(report.ok).toBe(false);
    const svg = recallPlot(report);
    expect(svg).toMatch(/^<svg [^>]*>[\s\S]*<\/svg>\n$/);
    expect(svg).toContain('pgvector hnsw');
    expect(svg).toContain('milvus exact scan');
    expect(await scratchLeftovers()).toEqual([]);
  });

  it('drops the scratch table when a step fails', async () => {
    // pgvector refuses an out-of-range ef_search mid-sweep, after the scratch table is loaded and indexed.
    const pgError = await runRecall(stack, dataset, {
      config,
      stores: ['pgvector'],
      sweep: { ...onlyConfigured, pgvectorHnswEfSearch: [5000] },
      progress: quiet,
    }).catch((e: Error) => e);
    expect((pgError as Error).message).toMatch(/ef_search/);
    expect(await scratchLeftovers()).toEqual([]);
  });
});
