#!/usr/bin/env tsx
// npm run consistency [-- --env local] [--repair] [--json] [--schema public] [--prefix name_] [--require COLLECTION]...
// Compares the chunks in PostgreSQL with the vectors in Milvus by id; --repair drains the vector outbox, deletes
// vectors without a chunk and marks embedded chunks without a vector for re-embedding (never deletes a PostgreSQL
// row). Exit 0 consistent (or fully repaired), 2 inconsistencies found (or left), 1 error.
// First: it sets how the heap grows before the large modules load (see the module).
import '../lib/ops/consistency/heap.js';
import { parseFlags, runMain, UsageError } from '../lib/cli.js';
import { runConsistency } from '../lib/ops/consistency/check.js';
import { consistencyJson, consistencyTable } from '../lib/ops/consistency/report.js';
import { openStack } from '../lib/targets/index.js';
import { Progress } from '../lib/util/progress.js';

const USAGE =
  'usage: npm run consistency -- [--env local|staging|production] [--repair] [--json] [--schema public] [--prefix name_] [--require rag_chunks]... [--batch-size 500]';

await runMain(async () => {
  const flags = parseFlags(process.argv.slice(2), {
    string: ['env', 'schema', 'prefix', 'require', 'batch-size'],
    boolean: ['repair'],
    usage: USAGE,
  });
  if (flags.help) return void console.log(USAGE);
  const batchSize = flags['batch-size'] === undefined ? undefined : Number(flags['batch-size']);
  if (batchSize !== undefined && !(Number.isInteger(batchSize) && batchSize >= 1 && batchSize <= 10_000))
    throw new UsageError(`--batch-size ${flags['batch-size']}: allowed values: 1-10000`);
  const require =
    flags.require === undefined ? undefined : ([] as string[]).concat(flags.require).map(String);
  const stack = await openStack({ env: flags.env });
  try {
    const report = await runConsistency(stack, {
      schema: flags.schema,
      prefix: flags.prefix,
      repair: flags.repair,
      require,
      batchSize,
      progress: new Progress(),
    });
    console.log(flags.json ? consistencyJson(report) : consistencyTable(report));
    return report.exitCode;
  } finally {
    await stack.close();
  }
});
