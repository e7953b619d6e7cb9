#!/usr/bin/env tsx
// npm run backup [-- --env local] [--to DIR] [--json] [--recall-queries N]: one backup set of every enabled store
// (PostgreSQL dump, Milvus collections, Redis snapshot, manifest.json) in DIR/<UTC timestamp>/ (default
// .vectorstack/<env>/backups/). Exit 0 written, 1 failed (the set is left without a manifest: incomplete).
import { parseFlags, runMain, UsageError } from '../lib/cli.js';
import { takeBackup } from '../lib/ops/backup/backup.js';
import { backupTable } from '../lib/ops/backup/report.js';
import { openStack } from '../lib/targets/index.js';
import { Progress } from '../lib/util/progress.js';

const USAGE = `usage: npm run backup -- [--env local|staging|production] [--to DIR] [--json] [--recall-queries N]
  --to              parent directory of the set (default .vectorstack/<env>/backups); the set is DIR/<UTC timestamp>/
  --recall-queries  sampled queries per vector index and collection for recall@10 (default 20)`;

await runMain(async () => {
  const flags = parseFlags(process.argv.slice(2), { string: ['env', 'to', 'recall-queries'], usage: USAGE });
  if (flags.help) return void console.log(USAGE);
  const queries = flags['recall-queries'] === undefined ? undefined : Number(flags['recall-queries']);
  if (queries !== undefined && !(Number.isInteger(queries) && queries > 0))
    throw new UsageError(`--recall-queries must be a positive integer, got ${flags['recall-queries']}`, {
      remedy: USAGE,
    });
  const progress = new Progress(undefined, !flags.json);
  const stack = await openStack({ env: flags.env, progress });
  try {
    const result = await takeBackup({ stack, to: flags.to, progress, recallQueries: queries });
    if (flags.json)
      console.log(
        JSON.stringify({ dir: result.dir, seconds: result.seconds, manifest: result.manifest }, null, 2),
      );
    else console.log(`${backupTable(result)}\nbackup set: ${result.dir}`);
    return 0;
  } finally {
    await stack.close();
  }
});
