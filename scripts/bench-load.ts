#!/usr/bin/env tsx
// npm run bench:load [-- --env local] [--dataset DIR] [--json]: ingest rate of the SIFT10K base vectors into pgvector
// (row-by-row INSERT, multi-row INSERT, COPY) and Milvus (per-row on a sample, batched). Scratch objects are dropped.
import path from 'node:path';
import { parseFlags, runMain } from '../lib/cli.js';
import { openStack } from '../lib/targets/index.js';
import { Progress } from '../lib/util/progress.js';
import { DEFAULT_DATASET_DIR, loadDataset } from '../lib/verify/dataset.js';
import { loadBenchTable, runLoadBench } from '../lib/verify/load-bench.js';

const USAGE = 'usage: npm run bench:load -- [--env local] [--dataset DIR] [--json]';

await runMain(async () => {
  const flags = parseFlags(process.argv.slice(2), { string: ['env', 'dataset'], usage: USAGE });
  if (flags.help) return void console.log(USAGE);
  const { base } = loadDataset(path.resolve(flags.dataset ?? DEFAULT_DATASET_DIR));
  const stack = await openStack({ env: flags.env });
  const report = await runLoadBench(stack, base, { progress: new Progress() }).finally(() => stack.close());
  console.log(flags.json ? JSON.stringify(report, null, 2) : loadBenchTable(report));
  return 0;
});
