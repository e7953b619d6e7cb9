#!/usr/bin/env tsx
// npm run import:chroma -- (--from URL | --from-dir DIR [--chroma-version V]) [--collection NAME]... --to pgvector|milvus|both
//   [--env local] [--dry-run] [--verify-only] [--json] [--page-size N] [--sample N]
// Moves ChromaDB collections into pgvector and/or Milvus and verifies each copy. Exit 0 ok, 1 error, 2 mismatch.
import { parseFlags, runMain, UsageError } from '../lib/cli.js';
import { CHROMA_VERSION_NAMES } from '../lib/setup/chroma.js';
import { openStack } from '../lib/targets/index.js';
import { ChromaSource } from '../lib/transfer/chroma-source.js';
import { importTable, runImport } from '../lib/transfer/import.js';
import { MilvusSink } from '../lib/transfer/milvus-sink.js';
import { openTransferClient, PgvectorSink } from '../lib/transfer/pgvector-sink.js';
import type { TargetSink } from '../lib/transfer/sink.js';
import { Progress } from '../lib/util/progress.js';

const USAGE = `usage: npm run import:chroma -- (--from URL | --from-dir DIR [--chroma-version V]) [--collection NAME]... --to pgvector|milvus|both [--env local] [--dry-run] [--verify-only] [--json]
  --from            URL of a running Chroma server (0.4.x: API v1, 1.x: API v2)
  --from-dir        a persisted Chroma directory (chroma.sqlite3 + segment directories), served from a copy by the
                    Chroma version that wrote it (${CHROMA_VERSION_NAMES.join(', ')}; installed on demand)
  --chroma-version  the version that wrote --from-dir (default: detected from its layout); another one is refused
  --collection      a collection to move (repeatable; default: all)
  --to              pgvector, milvus or both
  --dry-run         list what would be imported, write nothing
  --verify-only     compare what the targets hold with the source, write nothing
  --page-size N     records per page (default: 1.25 MiB of vectors, 1000-5000 records; 2560 at 128 dimensions)
  --sample N        stored vectors queried for agreement (default 100)
  exit codes: 0 ok, 1 error, 2 verification mismatch`;

function positive(value: unknown, name: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1)
    throw new UsageError(`--${name} must be a positive integer, got ${String(value)}`, { remedy: USAGE });
  return n;
}

await runMain(async () => {
  const flags = parseFlags(process.argv.slice(2), {
    boolean: ['dry-run', 'verify-only'],
    string: ['from', 'from-dir', 'chroma-version', 'collection', 'to', 'env', 'page-size', 'sample'],
    usage: USAGE,
  });
  if (flags.help) return void console.log(USAGE);
  if (!flags.from === !flags['from-dir'])
    throw new UsageError('give exactly one of --from URL or --from-dir DIR', { remedy: USAGE });
  if (flags['chroma-version'] && !flags['from-dir'])
    throw new UsageError('--chroma-version goes with --from-dir', { remedy: USAGE });
  const to = String(flags.to ?? '');
  if (!['pgvector', 'milvus', 'both'].includes(to))
    throw new UsageError(`--to ${to || '(missing)'}: allowed values: pgvector, milvus, both`, {
      remedy: USAGE,
    });
  if (flags['dry-run'] && flags['verify-only'])
    throw new UsageError('--dry-run and --verify-only exclude each other', { remedy: USAGE });
  const pageSize = positive(flags['page-size'], 'page-size');
  const sample = positive(flags.sample, 'sample');
  const collections = ([] as string[]).concat(flags.collection ?? []).map(String);
  const progress = new Progress();

  const source = await ChromaSource.open(
    flags.from
      ? { url: String(flags.from) }
      : { dir: String(flags['from-dir']), version: flags['chroma-version'] },
    { progress },
  );
  try {
    const stack = await openStack({ env: flags.env });
    try {
      const sinks: TargetSink[] = [];
      if (to === 'pgvector' || to === 'both') sinks.push(new PgvectorSink(await openTransferClient(stack)));
      if (to === 'milvus' || to === 'both') sinks.push(new MilvusSink(await stack.milvus()));
      const report = await runImport(source, sinks, {
        collections,
        pageSize,
        dryRun: flags['dry-run'],
        verifyOnly: flags['verify-only'],
        verify: { sample },
        progress,
      });
      console.log(flags.json ? JSON.stringify(report, null, 2) : importTable(report));
      return report.exitCode;
    } finally {
      await stack.close();
    }
  } finally {
    await source.close();
  }
});
