#!/usr/bin/env tsx
// npm run bench:search -- --scale 100k|1m [--concurrency 1,4,16] [--batch 1,10] [--stores pgvector,milvus] [--target-recall 0.95]
//   [--workers N] [--queries N] [--exact-queries N] [--out DIR] [--dataset-only] [--json]
//   npm run bench:search -- --report FILE.json   (the tables and the plot again, from a saved run)
// Search at scale on a synthetic clustered dataset with exact ground truth: load, HNSW / IVF / exact builds (time, size,
// server memory), recall@10 with p50/p95/p99 and QPS per client count, the HNSW/exact speed-up and the smallest
// ef/probes meeting the target recall. Runs on its own stack (project vssearch, 127.0.0.1:25981-25985), created and
// destroyed here. Run it under the integration lock: flock /tmp/vs/itest.lock npm run bench:search -- --scale 100k
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ensureSyntheticDataset } from '../lib/bench/search/dataset-cache.js';
import { DEFAULT_MIXTURE } from '../lib/bench/search/mixture.js';
import { searchPlot } from '../lib/bench/search/plot.js';
import { readSearchBenchReport, searchBenchText } from '../lib/bench/search/report.js';
import { runSearchBench, type SearchBenchReport } from '../lib/bench/search/run.js';
import { SCALES, scaleSpec } from '../lib/bench/search/scales.js';
import { STORE_NAMES, type StoreName } from '../lib/bench/search/types.js';
import { parseFlags, runMain, UsageError } from '../lib/cli.js';
import { Progress } from '../lib/util/progress.js';

const USAGE = `usage: npm run bench:search -- --scale ${Object.keys(SCALES).join('|')} [--concurrency 1,4,16] [--batch 1,10] [--stores pgvector,milvus] [--target-recall 0.95] [--workers N] [--queries N] [--exact-queries N] [--out DIR] [--dataset-only] [--json]
  --scale          dataset size (synthetic Gaussian mixture, cached with its ground truth in ~/.cache/vectorstack/datasets)
  --concurrency    client counts, each client on its own connection (default 1,4,16)
  --batch          queries per request, each measured on its own (default 1; Milvus takes several per search, nq;
                   pgvector is measured at 1)
  --target-recall  recall@10 the recommended ef/probes and the HNSW/exact ratio aim at (default 0.95)
  --workers        ground truth worker threads (default: one per core)
  --queries        queries per HNSW/IVF measurement; --exact-queries for the exact scan (defaults per scale)
  --out            directory for bench-search-<scale>.json and .svg (default .vectorstack/bench)
  --dataset-only   generate (or verify) the dataset and stop
  --report FILE    print the tables of a saved run (bench-search-<scale>.json) and write its plot beside it; runs nothing`;

function positive(value: unknown, name: string, integer = true): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n)))
    throw new UsageError(
      `--${name} must be a positive ${integer ? 'whole ' : ''}number, got ${String(value)}`,
      {
        remedy: USAGE,
      },
    );
  return n;
}

await runMain(async () => {
  const flags = parseFlags(process.argv.slice(2), {
    string: [
      'scale',
      'concurrency',
      'batch',
      'stores',
      'target-recall',
      'workers',
      'queries',
      'exact-queries',
      'out',
      'report',
    ],
    boolean: ['dataset-only'],
    usage: USAGE,
  });
  if (flags.help) return void console.log(USAGE);
  if (flags.report) {
    const json = path.resolve(String(flags.report));
    const report = readSearchBenchReport(json);
    return void write(report, json, `${json.replace(/\.json$/, '')}.svg`, !!flags.json); // never over the input
  }
  if (!flags.scale) throw new UsageError('--scale is required', { remedy: USAGE });
  const scale = scaleSpec(String(flags.scale));
  const concurrency = flags.concurrency
    ? String(flags.concurrency)
        .split(',')
        .map((c) => positive(c, 'concurrency')!)
    : undefined;
  const batches = flags.batch
    ? String(flags.batch)
        .split(',')
        .map((b) => positive(b, 'batch')!)
    : undefined;
  const stores = flags.stores ? (String(flags.stores).split(',') as StoreName[]) : undefined;
  for (const s of stores ?? [])
    if (!STORE_NAMES.includes(s))
      throw new UsageError(`--stores ${s}: allowed values: ${STORE_NAMES.join(', ')}`, { remedy: USAGE });
  const targetRecall = positive(flags['target-recall'], 'target-recall', false);
  if (targetRecall !== undefined && targetRecall > 1)
    throw new UsageError(`--target-recall must be at most 1, got ${targetRecall}`, { remedy: USAGE });
  const workers = positive(flags.workers, 'workers');
  const progress = new Progress();
  if (flags['dataset-only']) {
    const cached = await ensureSyntheticDataset(scale, DEFAULT_MIXTURE, { workers, progress });
    console.log(
      flags.json
        ? JSON.stringify(cached.manifest, null, 2)
        : `${cached.dataset.dir}\n${cached.manifest.distribution}`,
    );
    return 0;
  }
  const report = await runSearchBench({
    scale,
    stores,
    concurrency,
    batches,
    targetRecall,
    workers,
    annQueries: positive(flags.queries, 'queries'),
    exactQueries: positive(flags['exact-queries'], 'exact-queries'),
    progress,
  });
  const out = path.resolve(flags.out ?? path.join('.vectorstack', 'bench'));
  mkdirSync(out, { recursive: true });
  const json = path.join(out, `bench-search-${scale.name}.json`);
  const svg = path.join(out, `bench-search-${scale.name}.svg`);
  writeFileSync(json, `${JSON.stringify(report, null, 2)}\n`);
  write(report, json, svg, !!flags.json);
  return report.exactRecallOk ? 0 : 1;
});

/** The plot of `report` into `svg`, then its tables (or the JSON) on stdout. */
function write(report: SearchBenchReport, json: string, svg: string, asJson: boolean): void {
  writeFileSync(
    svg,
    searchPlot({
      points: report.points,
      k: report.k,
      dataset: `${report.dataset.base.toLocaleString('en')} x ${report.dataset.dimension}d synthetic`,
    }),
  );
  if (asJson) console.log(JSON.stringify(report, null, 2));
  else
    console.log(
      `${searchBenchText(report)}\nreport: ${path.relative(process.cwd(), json)}\nplot: ${path.relative(process.cwd(), svg)}`,
    );
}
