import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type ChromaVersion, ensureChromaInstall } from '../setup/chroma.js';
import type { RunningStack } from '../stack/running-stack.js';
import { Progress } from '../util/progress.js';
import { renderTable } from '../util/table.js';
import { insertBatches, withScratchCollection } from '../verify/milvus-store.js';
import { copyVectors, scratchName, withScratchTable } from '../verify/pg-store.js';
import { type FloatVectors, row } from '../verify/vectors.js';
import { ChromaClient } from './chroma-api.js';
import { startChromaServer } from './chroma-server.js';
import { ChromaSource } from './chroma-source.js';
import { runImport } from './import.js';
import { MilvusSink } from './milvus-sink.js';
import { milvusCollection, PG_CATALOG, PG_SCHEMA, pgTable, type TargetName } from './model.js';
import { openTransferClient, PgvectorSink } from './pgvector-sink.js';

/** How the import reads Chroma: records per page and pages requested ahead. */
export interface PageSetting {
  pageSize: number;
  readAhead: number;
}

/** `import:chroma`'s defaults (lib/transfer/import.ts, chroma-source.ts). */
export const DEFAULT_PAGE_SETTING: PageSetting = { pageSize: 1000, readAhead: 2 };

/** Parses `SIZE:AHEAD[,SIZE:AHEAD...]`, e.g. `1000:2,2500:4`; names the bad part. */
export function parsePageSettings(value: string): PageSetting[] {
  return value.split(',').map((part) => {
    const m = /^(\d+):(\d+)$/.exec(part.trim());
    const pageSize = Number(m?.[1]);
    const readAhead = Number(m?.[2]);
    if (!m || pageSize < 1 || pageSize > 100_000 || readAhead > 16)
      throw new Error(
        `--pages ${part}: expected SIZE:AHEAD with SIZE 1-100000 records and AHEAD 0-16 pages, e.g. 1000:2`,
      );
    return { pageSize, readAhead };
  });
}

export interface ImportBenchRow {
  target: TargetName;
  chroma: string;
  /** Page size and read-ahead of this pass. */
  pages: string;
  vectors: number;
  /** The target's own fastest bulk load (lib/verify/load-bench.ts: COPY, batched insert of 1,000). */
  bulkVectorsPerSecond: number;
  /** Import pass: read pages from Chroma, write to the target (index build and verification excluded). */
  importVectorsPerSecond: number;
  ratio: number;
  /** Index build / flush after the pass, and the verification, in seconds. */
  finishSeconds: number;
  verifySeconds: number;
  agreement: number;
  goal: number;
  met: boolean;
}

export interface ImportBenchReport {
  vectors: number;
  dimension: number;
  chromaSeedSeconds: Record<string, number>;
  rows: ImportBenchRow[];
}

/**
 * Import throughput of `base` from a Chroma server into each target, as a ratio to that target's own bulk load of the
 * same vectors measured right before each import pass (paired: the machine's state drifts between passes). The Chroma
 * server (each version in `versions`) is started on an empty scratch directory and seeded first; what the bench
 * imports is dropped afterwards.
 */
export async function runImportBench(
  stack: RunningStack,
  base: FloatVectors,
  options: { versions: ChromaVersion[]; progress?: Progress; goal?: number; pages?: PageSetting[] },
): Promise<ImportBenchReport> {
  const progress = options.progress ?? new Progress();
  const goal = options.goal ?? 0.5;
  const rows: ImportBenchRow[] = [];
  const chromaSeedSeconds: Record<string, number> = {};
  const pg = await openTransferClient(stack);
  const milvus = await stack.milvus();
  /** The target's own bulk load of `base` (vectors/s), measured right before each import pass it is paired with. */
  const bulkLoad = async (target: TargetName): Promise<number> => {
    let rate = 0;
    const scratch = scratchName('importbench');
    if (target === 'pgvector')
      await withScratchTable(pg, scratch, base.dimension, async () => {
        const t = performance.now();
        await copyVectors(pg, scratch, base);
        rate = (base.count / (performance.now() - t)) * 1000;
      });
    else
      await withScratchCollection(milvus, scratch, base.dimension, async () => {
        const t = performance.now();
        await insertBatches(milvus, scratch, base, 1000);
        rate = (base.count / (performance.now() - t)) * 1000;
      });
    progress.log(
      `bulk load: ${target} ${target === 'pgvector' ? 'COPY' : 'batched insert'} ${Math.round(rate)}/s`,
    );
    return rate;
  };
  try {
    for (const version of options.versions) {
      const { install } = await ensureChromaInstall(version, { progress });
      const dir = mkdtempSync(path.join(os.tmpdir(), 'vectorstack-bench-chroma-'));
      const server = await startChromaServer(install, { dataDir: dir, progress, removeOnStop: [dir] });
      const name = `vsbench-sift-${version.replace(/\./g, '-')}`;
      try {
        const client = await ChromaClient.connect(server.url);
        // search_ef 100 (1.x's default; 0.4.x defaults to 10, which agrees 0.97 with the exact top 10 on SIFT10K).
        const collection = await client.createCollection(name, { 'hnsw:space': 'l2', 'hnsw:search_ef': 100 });
        const seeded = performance.now();
        for (let start = 0; start < base.count; start += 1000) {
          const end = Math.min(start + 1000, base.count);
          const ids: string[] = [];
          const embeddings: number[][] = [];
          for (let i = start; i < end; i++) {
            ids.push(String(i));
            embeddings.push(Array.from(row(base, i)));
          }
          await client.add(collection, { ids, embeddings });
        }
        chromaSeedSeconds[version] = (performance.now() - seeded) / 1000;
        progress.log(
          `chroma ${version}: seeded ${base.count} vectors in ${chromaSeedSeconds[version]!.toFixed(1)}s`,
        );
        const source = await ChromaSource.open({ url: server.url });
        const passes = (options.pages ?? [DEFAULT_PAGE_SETTING]).flatMap((setting) =>
          (
            [
              ['pgvector', new PgvectorSink(pg)],
              ['milvus', new MilvusSink(milvus)],
            ] as const
          ).map(([target, sink]) => ({ target, sink, setting })),
        );
        for (const { target, sink, setting } of passes) {
          try {
            const bulk = await bulkLoad(target);
            const started = performance.now();
            const report = await runImport(source, [sink], {
              collections: [name],
              verify: { sample: 50 },
              progress,
              pageSize: setting.pageSize,
              readAhead: setting.readAhead,
            });
            const r = report.rows[0]!;
            const total = (performance.now() - started) / 1000;
            const rate = r.vectorsPerSecond;
            rows.push({
              target,
              chroma: version,
              pages: `${setting.pageSize}:${setting.readAhead}`,
              vectors: r.written,
              bulkVectorsPerSecond: bulk,
              importVectorsPerSecond: rate,
              ratio: rate / bulk,
              finishSeconds: Number(/\(([\d.]+)s\)/.exec(r.finished)?.[1] ?? 0),
              verifySeconds: Math.max(
                0,
                total - r.seconds - Number(/\(([\d.]+)s\)/.exec(r.finished)?.[1] ?? 0),
              ),
              agreement: r.verification?.agreement ?? 0,
              goal,
              met: rate / bulk >= goal,
            });
          } finally {
            if (target === 'pgvector') {
              await pg.query(`DROP TABLE IF EXISTS ${PG_SCHEMA}."${pgTable(name)}"`);
              await pg
                .query(`DELETE FROM ${PG_SCHEMA}.${PG_CATALOG} WHERE chroma_name = $1`, [name])
                .catch(() => {});
            } else {
              await milvus.dropCollection({ collection_name: milvusCollection(name) }).catch(() => {});
            }
          }
        }
      } finally {
        await server.stop();
        rmSync(dir, { recursive: true, force: true });
      }
    }
  } finally {
    await stack.close();
  }
  return { vectors: base.count, dimension: base.dimension, chromaSeedSeconds, rows };
}

export function importBenchTable(report: ImportBenchReport): string {
  return renderTable(
    [
      'target',
      'from Chroma',
      'pages (size:ahead)',
      'vectors',
      'bulk load vectors/s',
      'import vectors/s',
      'ratio',
      'goal',
      'index/flush s',
      'verify s',
      'agreement@10',
    ],
    report.rows.map((r) => [
      r.target,
      r.chroma,
      r.pages,
      r.vectors,
      Math.round(r.bulkVectorsPerSecond),
      Math.round(r.importVectorsPerSecond),
      `${r.ratio.toFixed(2)}x`,
      `>= ${r.goal}x: ${r.met ? 'met' : 'NOT met'}`,
      r.finishSeconds.toFixed(1),
      r.verifySeconds.toFixed(1),
      r.agreement.toFixed(4),
    ]),
  );
}
