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
import { defaultPageSize, runImport } from './import.js';
import { MilvusSink } from './milvus-sink.js';
import { milvusCollection, PG_CATALOG, PG_SCHEMA, pgTable, type TargetName } from './model.js';
import { openTransferClient, PgvectorSink } from './pgvector-sink.js';

/** How the import reads Chroma: records per page and pages requested ahead. */
export interface PageSetting {
  pageSize: number;
  readAhead: number;
}

/** `import:chroma`'s defaults for vectors of `dimension` (lib/transfer/import.ts, chroma-source.ts). */
export function defaultPageSetting(dimension: number): PageSetting {
  return { pageSize: defaultPageSize(dimension), readAhead: 2 };
}

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

/** One timed import pass, paired with the target's bulk load measured right before it. */
export interface ImportBenchPass {
  round: number;
  target: TargetName;
  chroma: string;
  /** Page size and read-ahead of this pass. */
  pages: string;
  vectors: number;
  /** The target's own fastest bulk load of the same vectors (lib/verify/load-bench.ts: COPY, batched insert). */
  bulkSeconds: number;
  /** Import pass: read pages from Chroma, write to the target (index build and verification excluded). */
  importSeconds: number;
  /** Index build / flush after the pass, and the verification. */
  finishSeconds: number;
  verifySeconds: number;
  agreement: number;
}

/** Reading the collection from Chroma alone, as the import reads it (same pages, decoded), with no target. */
export interface SourceReadPass {
  round: number;
  chroma: string;
  pages: string;
  vectors: number;
  seconds: number;
}

/** Per target, Chroma version and page setting: every round's figures together. */
export interface ImportBenchSummary {
  target: TargetName;
  chroma: string;
  pages: string;
  passes: number;
  /** Vectors over seconds, summed across rounds: a pass's hiccup weighs what it cost, not a whole vote. */
  bulkVectorsPerSecond: number;
  importVectorsPerSecond: number;
  ratio: number;
  /** Lowest and highest ratio of one pass to its paired bulk load. */
  ratioRange: [number, number];
  /** Chroma read alone (no target), summed across rounds. */
  sourceReadVectorsPerSecond: number;
  /** Source read alone / bulk load: the ratio no import from this source could pass on this machine. */
  ceiling: number;
  goal: number;
  met: boolean;
}

export interface ImportBenchReport {
  vectors: number;
  dimension: number;
  rounds: number;
  chromaSeedSeconds: Record<string, number>;
  passes: ImportBenchPass[];
  reads: SourceReadPass[];
  summary: ImportBenchSummary[];
}

/** A pass's import rate over its paired bulk load's (same vectors, so the inverse ratio of their seconds). */
export function passRatio(p: ImportBenchPass): number {
  return p.importSeconds > 0 ? p.bulkSeconds / p.importSeconds : 0;
}

const total = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
const rate = (vectors: number, seconds: number) => (seconds > 0 ? vectors / seconds : 0);

/** Sums every round of each (target, Chroma version, pages) into one line; ratios of sums, ranges of pass ratios. */
export function summariseImportBench(
  passes: ImportBenchPass[],
  reads: SourceReadPass[],
  goal: number,
): ImportBenchSummary[] {
  const groups = new Map<string, ImportBenchPass[]>();
  for (const p of passes) {
    const key = `${p.target}|${p.chroma}|${p.pages}`;
    groups.set(key, [...(groups.get(key) ?? []), p]);
  }
  return [...groups.values()].map((group) => {
    const { target, chroma, pages } = group[0]!;
    const sameSource = reads.filter((r) => r.chroma === chroma && r.pages === pages);
    const vectors = total(group.map((p) => p.vectors));
    const bulk = rate(vectors, total(group.map((p) => p.bulkSeconds)));
    const imported = rate(vectors, total(group.map((p) => p.importSeconds)));
    const read = rate(total(sameSource.map((r) => r.vectors)), total(sameSource.map((r) => r.seconds)));
    const perPass = group.map(passRatio);
    const ratio = bulk > 0 ? imported / bulk : 0;
    return {
      target,
      chroma,
      pages,
      passes: group.length,
      bulkVectorsPerSecond: bulk,
      importVectorsPerSecond: imported,
      ratio,
      ratioRange: [Math.min(...perPass), Math.max(...perPass)] as [number, number],
      sourceReadVectorsPerSecond: read,
      ceiling: bulk > 0 ? read / bulk : 0,
      goal,
      met: ratio >= goal,
    };
  });
}

/**
 * Import throughput of `base` from a Chroma server into each target, as a ratio to that target's own bulk load of the
 * same vectors. Each round reads the collection once from Chroma with no target (the source's own rate, which bounds
 * any import), then per target measures the bulk load and right after it an import pass (paired: the machine's state
 * drifts). The Chroma server (each version in `versions`) is started on an empty scratch directory and seeded first;
 * what the bench imports is dropped after each pass.
 */
export async function runImportBench(
  stack: RunningStack,
  base: FloatVectors,
  options: {
    versions: ChromaVersion[];
    progress?: Progress;
    goal?: number;
    pages?: PageSetting[];
    /** Rounds of (source read, bulk load + import per target). @default 3 */
    rounds?: number;
  },
): Promise<ImportBenchReport> {
  const progress = options.progress ?? new Progress();
  const goal = options.goal ?? 0.5;
  const rounds = options.rounds ?? 3;
  const passes: ImportBenchPass[] = [];
  const reads: SourceReadPass[] = [];
  const chromaSeedSeconds: Record<string, number> = {};
  const pg = await openTransferClient(stack);
  const milvus = await stack.milvus();
  /** Seconds of the target's own bulk load of `base`. */
  /**
   * PostgreSQL writes back what the previous step left dirty (an import, an index build, a dropped table) before each
   * timed step, so neither the bulk load nor the import pays for the step before it.
   */
  const settle = () => pg.query('CHECKPOINT');
  const bulkLoad = async (target: TargetName): Promise<number> => {
    await settle();
    let ms = 0;
    const scratch = scratchName('importbench');
    if (target === 'pgvector')
      await withScratchTable(pg, scratch, base.dimension, async () => {
        const t = performance.now();
        await copyVectors(pg, scratch, base);
        ms = performance.now() - t;
      });
    else
      await withScratchCollection(milvus, scratch, base.dimension, async () => {
        const t = performance.now();
        await insertBatches(milvus, scratch, base, 1000);
        ms = performance.now() - t;
      });
    progress.log(
      `bulk load: ${target} ${target === 'pgvector' ? 'COPY' : 'batched insert'} ${Math.round((base.count / ms) * 1000)}/s`,
    );
    return ms / 1000;
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
        const [sourceCollection] = await source.collections([name]);
        const settings = options.pages ?? [defaultPageSetting(base.dimension)];
        for (let round = 1; round <= rounds; round++) {
          for (const setting of settings) {
            const pages = `${setting.pageSize}:${setting.readAhead}`;
            const t = performance.now();
            let vectors = 0;
            for await (const page of source.pages(sourceCollection!, setting)) vectors += page.records.length;
            const seconds = (performance.now() - t) / 1000;
            reads.push({ round, chroma: version, pages, vectors, seconds });
            progress.log(`round ${round}: chroma ${version} read alone ${Math.round(vectors / seconds)}/s`);
            for (const [target, sink] of [
              ['pgvector', new PgvectorSink(pg)],
              ['milvus', new MilvusSink(milvus)],
            ] as const) {
              try {
                const bulkSeconds = await bulkLoad(target);
                await settle();
                const started = performance.now();
                const report = await runImport(source, [sink], {
                  collections: [name],
                  verify: { sample: 50 },
                  progress,
                  pageSize: setting.pageSize,
                  readAhead: setting.readAhead,
                });
                const r = report.rows[0]!;
                const finishSeconds = Number(/\(([\d.]+)s\)/.exec(r.finished)?.[1] ?? 0);
                passes.push({
                  round,
                  target,
                  chroma: version,
                  pages,
                  vectors: r.written,
                  bulkSeconds,
                  importSeconds: r.seconds,
                  finishSeconds,
                  verifySeconds: Math.max(
                    0,
                    (performance.now() - started) / 1000 - r.seconds - finishSeconds,
                  ),
                  agreement: r.verification?.agreement ?? 0,
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
  return {
    vectors: base.count,
    dimension: base.dimension,
    rounds,
    chromaSeedSeconds,
    passes,
    reads,
    summary: summariseImportBench(passes, reads, goal),
  };
}

export function importBenchTable(report: ImportBenchReport): string {
  const perPass = renderTable(
    [
      'round',
      'target',
      'from Chroma',
      'pages',
      'bulk load vectors/s',
      'import vectors/s',
      'ratio',
      'index/flush s',
      'verify s',
      'agreement@10',
    ],
    report.passes.map((p) => [
      p.round,
      p.target,
      p.chroma,
      p.pages,
      Math.round(p.vectors / p.bulkSeconds),
      Math.round(p.vectors / p.importSeconds),
      `${passRatio(p).toFixed(2)}x`,
      p.finishSeconds.toFixed(1),
      p.verifySeconds.toFixed(1),
      p.agreement.toFixed(4),
    ]),
  );
  const summary = renderTable(
    [
      'target',
      'from Chroma',
      'pages (size:ahead)',
      'passes',
      'bulk load vectors/s',
      'import vectors/s',
      'ratio (range)',
      'Chroma read alone vectors/s',
      'ceiling',
      'goal',
    ],
    report.summary.map((s) => [
      s.target,
      s.chroma,
      s.pages,
      s.passes,
      Math.round(s.bulkVectorsPerSecond),
      Math.round(s.importVectorsPerSecond),
      `${s.ratio.toFixed(2)}x (${s.ratioRange[0].toFixed(2)}-${s.ratioRange[1].toFixed(2)})`,
      Math.round(s.sourceReadVectorsPerSecond),
      `${s.ceiling.toFixed(2)}x`,
      `>= ${s.goal}x: ${s.met ? 'met' : 'NOT met'}`,
    ]),
  );
  return `${perPass}\n${summary}`;
}
