#!/usr/bin/env tsx
// npm run recall [-- --env local] [--dataset DIR] [--json] [--plot FILE] [--threshold 0.95] [--store pgvector|milvus]
// Recall@10/@100 of HNSW and IVFFlat in pgvector and Milvus against exact ground truth, with a latency sweep.
// Exit 1 when recall@10 at the configured search parameters is below the threshold.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseFlags, runMain, UsageError } from '../lib/cli.js';
import { reportsDir } from '../lib/paths.js';
import { openStack } from '../lib/targets/index.js';
import { Progress } from '../lib/util/progress.js';
import { DEFAULT_DATASET_DIR, loadDataset } from '../lib/verify/dataset.js';
import { recallPlot, recallSummary, recallTable, runRecall, type StoreName } from '../lib/verify/recall.js';

const USAGE = `usage: npm run recall -- [--env local|staging|production] [--dataset DIR] [--json] [--plot FILE] [--threshold N] [--store pgvector|milvus] [--base-limit N]
  --dataset     directory with *base.fvecs, *query.fvecs, *groundtruth.ivecs (default ${path.relative(process.cwd(), DEFAULT_DATASET_DIR)})
  --base-limit  use the first N base vectors only (ground truth recomputed exactly)
  --plot        SVG file (default .vectorstack/<env>/reports/recall.svg)`;

function numberFlag(value: unknown, name: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isFinite(n))
    throw new UsageError(`--${name} must be a number, got ${String(value)}`, { remedy: USAGE });
  return n;
}

await runMain(async () => {
  const flags = parseFlags(process.argv.slice(2), {
    string: ['env', 'dataset', 'plot', 'threshold', 'store', 'base-limit'],
    usage: USAGE,
  });
  if (flags.help) return void console.log(USAGE);
  const stores = flags.store ? (String(flags.store).split(',') as StoreName[]) : undefined;
  for (const s of stores ?? [])
    if (s !== 'pgvector' && s !== 'milvus')
      throw new UsageError(`--store ${s}: allowed values: pgvector, milvus`, { remedy: USAGE });
  const progress = new Progress();
  const datasetDir = path.resolve(flags.dataset ?? DEFAULT_DATASET_DIR);
  const dataset = loadDataset(datasetDir, { baseLimit: numberFlag(flags['base-limit'], 'base-limit') });
  progress.log(
    `dataset ${datasetDir}: ${dataset.base.count} base x ${dataset.base.dimension}d, ${dataset.queries.count} queries, ground truth ${dataset.groundTruthSource}`,
  );
  const stack = await openStack({ env: flags.env });
  const report = await runRecall(stack, dataset, {
    stores,
    threshold: numberFlag(flags.threshold, 'threshold'),
    progress,
  }).finally(() => stack.close());
  const plotFile = flags.plot
    ? path.resolve(flags.plot)
    : path.join(reportsDir(stack.deployment.stateDir), 'recall.svg');
  writeFileSync(plotFile, recallPlot(report));
  if (flags.json) console.log(JSON.stringify(report, null, 2));
  else
    console.log(
      `${recallTable(report)}\n${recallSummary(report)}\nplot: ${path.relative(process.cwd(), plotFile)}`,
    );
  return report.ok ? 0 : 1;
});
