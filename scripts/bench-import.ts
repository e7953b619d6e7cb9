#!/usr/bin/env tsx
// npm run bench:import [-- --env local] [--dataset DIR] [--chroma-version V]... [--pages 1000:2,2500:4] [--rounds N] [--json]
// Import throughput of the SIFT10K base from a Chroma server into pgvector and Milvus, as a ratio to each target's own
// bulk load (COPY; batched insert) measured in the same run. Goal: >= 0.5x.
import path from 'node:path';
import { parseFlags, runMain, UsageError } from '../lib/cli.js';
import { CHROMA_VERSION_NAMES, type ChromaVersion, isChromaVersion } from '../lib/setup/chroma.js';
import { openStack } from '../lib/targets/index.js';
import { importBenchTable, parsePageSettings, runImportBench } from '../lib/transfer/import-bench.js';
import { Progress } from '../lib/util/progress.js';
import { DEFAULT_DATASET_DIR, loadDataset } from '../lib/verify/dataset.js';

const USAGE = `usage: npm run bench:import -- [--env local] [--dataset DIR] [--chroma-version ${CHROMA_VERSION_NAMES.join('|')}]... [--pages SIZE:AHEAD,...] [--rounds N] [--json]`;

await runMain(async () => {
  const flags = parseFlags(process.argv.slice(2), {
    string: ['env', 'dataset', 'chroma-version', 'pages', 'rounds'],
    usage: USAGE,
  });
  if (flags.help) return void console.log(USAGE);
  const versions = ([] as string[]).concat(flags['chroma-version'] ?? CHROMA_VERSION_NAMES).map(String);
  for (const v of versions)
    if (!isChromaVersion(v))
      throw new UsageError(`--chroma-version ${v}: allowed values: ${CHROMA_VERSION_NAMES.join(', ')}`);
  let pages: ReturnType<typeof parsePageSettings> | undefined;
  try {
    pages = flags.pages ? parsePageSettings(String(flags.pages)) : undefined;
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const rounds = flags.rounds === undefined ? undefined : Number(flags.rounds);
  if (rounds !== undefined && !(Number.isInteger(rounds) && rounds >= 1 && rounds <= 20))
    throw new UsageError(`--rounds ${flags.rounds}: expected a whole number of rounds from 1 to 20`);
  const { base } = loadDataset(path.resolve(flags.dataset ?? DEFAULT_DATASET_DIR));
  const stack = await openStack({ env: flags.env });
  const report = await runImportBench(stack, base, {
    versions: versions as ChromaVersion[],
    progress: new Progress(),
    pages,
    rounds,
  });
  console.log(flags.json ? JSON.stringify(report, null, 2) : importBenchTable(report));
  return 0;
});
