#!/usr/bin/env tsx
// npm run export:sqlite-vec -- --from pgvector|milvus [--collection NAME]... --out FILE.db [--env local] [--json]
// Exports imported collections into sqlite-vec vec0 tables and checks count and recall@10 against the source's exact search.
import path from 'node:path';
import { parseFlags, runMain, UsageError } from '../lib/cli.js';
import { openStack } from '../lib/targets/index.js';
import { MilvusSink } from '../lib/transfer/milvus-sink.js';
import { openTransferClient, PgvectorSink } from '../lib/transfer/pgvector-sink.js';
import { exportTable, exportToSqliteVec } from '../lib/transfer/sqlite-vec-export.js';
import { Progress } from '../lib/util/progress.js';

const USAGE = `usage: npm run export:sqlite-vec -- --from pgvector|milvus [--collection NAME]... --out FILE.db [--env local] [--json] [--sample N]
  --from        the target an import wrote (npm run import:chroma)
  --collection  a Chroma collection name (repeatable; default: every complete import)
  --out         SQLite file; each collection's vec0 table in it is replaced
  exit codes: 0 ok, 1 error, 2 count or recall mismatch`;

await runMain(async () => {
  const flags = parseFlags(process.argv.slice(2), {
    string: ['from', 'collection', 'out', 'env', 'sample'],
    usage: USAGE,
  });
  if (flags.help) return void console.log(USAGE);
  const from = String(flags.from ?? '');
  if (from !== 'pgvector' && from !== 'milvus')
    throw new UsageError(`--from ${from || '(missing)'}: allowed values: pgvector, milvus`, {
      remedy: USAGE,
    });
  if (!flags.out) throw new UsageError('--out FILE.db is required', { remedy: USAGE });
  const sample = flags.sample === undefined ? undefined : Number(flags.sample);
  if (sample !== undefined && !(Number.isInteger(sample) && sample > 0))
    throw new UsageError(`--sample must be a positive integer, got ${flags.sample}`, { remedy: USAGE });
  const stack = await openStack({ env: flags.env });
  try {
    const sink =
      from === 'pgvector'
        ? new PgvectorSink(await openTransferClient(stack))
        : new MilvusSink(await stack.milvus());
    const report = await exportToSqliteVec(sink, {
      out: path.resolve(String(flags.out)),
      collections: ([] as string[]).concat(flags.collection ?? []).map(String),
      sample,
      progress: new Progress(),
    });
    console.log(
      flags.json ? JSON.stringify(report, null, 2) : `${exportTable(report)}\nwritten: ${report.out}`,
    );
    return report.ok ? 0 : 2;
  } finally {
    await stack.close();
  }
});
